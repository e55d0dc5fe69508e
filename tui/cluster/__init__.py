"""A local multi-node LiveKit cluster (Redis, livekit-server nodes, headless workers) and the
load it can carry. Uses :mod:`tui.core` only; the dashboard never imports it."""
