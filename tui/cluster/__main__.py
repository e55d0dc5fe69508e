"""``python -m tui.cluster`` (``make cluster``): a local cluster in the foreground."""

from __future__ import annotations

from tui.cluster.launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
