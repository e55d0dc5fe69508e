"""Names shared by the worker, the control plane and the observer."""

from __future__ import annotations

AGENT_NAME = "dispatch-multi-agent"
"""The worker's agent name: rooms get an explicit dispatch to it (no automatic dispatch)."""

ROLE_ATTRIBUTE = "dispatch.role"
"""Participant attribute carrying ``dispatcher`` or ``driver``."""

SAID_LINES_ATTRIBUTE = "dispatch.said"
"""Participant attribute with the lines the agent said (see :mod:`agents.said_lines`)."""

AGENT_STATE_ATTRIBUTE = "lk.agent.state"
TRANSCRIPTION_TOPIC = "lk.transcription"
TRANSCRIPTION_FINAL_ATTRIBUTE = "lk.transcription_final"
"""Set to ``true`` in a transcript stream's trailer when the segment is complete."""
LIVEKIT_SESSION_TOPIC = "lk.agent.session"
"""LiveKit's own session channel (byte streams from the primary session): read or drained,
never left unhandled, or the SDK logs every one on the root logger."""

WORKER_PID_ATTRIBUTE = "dispatch.worker.pid"
WORKER_HOST_ATTRIBUTE = "dispatch.worker.host"
WORKER_ID_ATTRIBUTE = "dispatch.worker.id"
"""Attributes of Tim's participant naming the worker process that runs the call: its pid, its
host, and the id the server gave the worker at registration (``AW_…``, the ``worker_id`` of
the job in ``ListDispatch``), which ties the server's job list to a process."""

DEV_WORKER_CAPACITY = 20
"""Most calls ``dispatch-tui run --concurrency`` places at once on its in-process worker (the
dashboard's worker, with no ``DISPATCH_WORKER_CAPACITY``, measures what the machine runs)."""
