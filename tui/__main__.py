"""The one composition root: ``dispatch-tui`` and ``python -m tui``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command; returns the exit code."""
    from tui.commands.cli import run_cli

    try:
        return run_cli(sys.argv[1:] if argv is None else argv)
    finally:
        # A command that used livekit.rtc (run's worker and observers, doctor's observer) shuts
        # its native runtime down while Python is still whole (see release_native_runtime).
        if "livekit.rtc._ffi_client" in sys.modules:
            from agents.compat import release_rtc_client

            release_rtc_client()


if __name__ == "__main__":
    sys.exit(main())
