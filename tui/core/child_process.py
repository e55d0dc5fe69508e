"""Child processes we start and must never leave behind: spawn, wait until ready, terminate.

Every child runs in its own session, so its process group holds it and everything it spawned
(a worker's job processes): terminating kills the whole group once the grace period is over,
and Ctrl-C in the terminal reaches only us, which then stops the children in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ChildExited(RuntimeError):
    """The child exited before it was ready; ``returncode`` says how."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"exited with code {returncode}")
        self.returncode = returncode


def spawn(
    command: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, stdout and stderr into ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout_s: float,
    poll_s: float = 0.05,
) -> bool:
    """Poll ``ready()`` until it is true (True) or ``timeout_s`` passed (False).

    Raises :class:`ChildExited` as soon as the child exits; ``ready`` may raise to give up early.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return True
        if process.poll() is not None:
            raise ChildExited(process.returncode)
        time.sleep(poll_s)
    return False


def terminate(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM the child, then SIGKILL its whole process group once it exited or ``timeout_s``
    passed (leftover grandchildren included), and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
    kill_group(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group at once and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def log_tail(path: Path | None, lines: int = 5) -> str:
    """The last ``lines`` lines of a child's log on one line, for an error message."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(empty log)"
