"""Start, watch and stop the worker processes the benchmarks measure.

- :class:`~tui.core.worker_host.WorkerHost` (in core): ``agents/worker_host.py``, the
  dashboard's in-process multi-agent worker alone in a child process.
- :class:`SingleAgentWorkers`: two ``bench/single_agent_worker.py start`` processes (the livekit
  CLI), one per agent name, for the two-worker alternative.

Both are async context managers that always stop their children, also when a benchmark fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import PROJECT_ROOT
from tui.core.local_server import LocalServer
from tui.core.worker_host import REGISTER_TIMEOUT_S, STOP_TIMEOUT_S, worker_env

SINGLE_SCRIPT = PROJECT_ROOT / "bench" / "single_agent_worker.py"


class SingleAgentWorkers:
    """``bench-dispatcher`` and ``bench-driver`` workers, each its own livekit CLI process."""

    ROLES = ("dispatcher", "driver")

    def __init__(self, server: LocalServer, log_dir: Path) -> None:
        self._server = server
        self._log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log_paths: list[Path] = [log_dir / f"single_{role}.log" for role in self.ROLES]

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    async def __aenter__(self) -> SingleAgentWorkers:
        try:
            for role, log_path in zip(self.ROLES, self.log_paths, strict=True):
                with log_path.open("wb") as log:
                    self.processes.append(
                        subprocess.Popen(
                            [sys.executable, str(SINGLE_SCRIPT), "start"],
                            stdin=subprocess.DEVNULL,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env=worker_env(self._server, {"BENCH_ROLE": role}),
                            cwd=PROJECT_ROOT,
                        )
                    )
            await self._wait_registered()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _wait_registered(self) -> None:
        """The CLI logs "registered worker" once the server accepted the worker."""
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while time.monotonic() < deadline:
            for process, path in zip(self.processes, self.log_paths, strict=True):
                if process.poll() is not None:
                    tail = path.read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError(f"{path.name}: worker exited: {' | '.join(tail)}")
            texts = [path.read_text(errors="replace") for path in self.log_paths]
            if all("registered worker" in text for text in texts):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"single-agent workers not registered after {REGISTER_TIMEOUT_S:.0f}s")

    async def aclose(self) -> None:
        """SIGINT (the CLI's graceful stop), then SIGKILL after a timeout."""
        processes, self.processes = self.processes, []
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # the CLI's job processes would outlive a killed parent: kill them first
                with contextlib.suppress(psutil.Error):
                    for child in psutil.Process(process.pid).children(recursive=True):
                        child.kill()
                process.kill()
                await asyncio.to_thread(process.wait)


def make_log_dir() -> Path:
    """A fresh folder for worker and server logs of this run (kept for post-mortems)."""
    return Path(tempfile.mkdtemp(prefix="dispatch-tui-bench-"))
