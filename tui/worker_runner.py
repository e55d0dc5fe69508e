"""Run the multi-agent AgentServer inside the dashboard's event loop.

The server's jobs run on their own threads (JobExecutorType.THREAD); this module only owns the
server task and turns its life into WorkerStatus values for a plain callable sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents import AgentServer

logger = logging.getLogger("tui.worker")

# AgentServer.run() copies its URL and credentials into os.environ; put them back afterwards
# so nothing else in the process (or its children) inherits a secret it was not given.
_ENV_WRITTEN_BY_SERVER = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")

WorkerState = Literal["off", "starting", "registered", "failed", "stopped"]


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """What the in-process worker is doing, for the header and diagnostics."""

    state: WorkerState
    worker_id: str = ""
    detail: str = ""
    agent_name: str = ""


class InProcessWorker:
    """Start ``server.run()`` as a task, report registration and failure, close it cleanly."""

    def __init__(
        self,
        server: AgentServer,
        on_status: Callable[[WorkerStatus], None],
        *,
        agent_name: str = "",
    ) -> None:
        self._server = server
        self._on_status = on_status
        self._agent_name = agent_name
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._saved_env: dict[str, str | None] = {}
        """Set once the worker registered or failed."""
        self.status = WorkerStatus("off", agent_name=agent_name)

    def _report(self, status: WorkerStatus) -> None:
        self.status = status
        if status.state in ("registered", "failed"):
            self._settled.set()
        self._on_status(status)

    def _on_registered(self, worker_id: str, server_info: Any) -> None:
        version = getattr(server_info, "version", "")
        detail = f"server {version}" if version else ""
        logger.info("worker registered as %s (agent name %r)", worker_id, self._agent_name)
        self._report(WorkerStatus("registered", worker_id, detail, self._agent_name))

    async def start(self) -> None:
        """Start the server task; returns at once, registration is reported later."""
        if self._task is not None:
            raise RuntimeError("worker already started")
        self._server.on("worker_registered", self._on_registered)
        self._report(WorkerStatus("starting", agent_name=self._agent_name))
        self._saved_env = {name: os.environ.get(name) for name in _ENV_WRITTEN_BY_SERVER}
        self._task = asyncio.create_task(self._run(), name="dispatch-tui-agent-server")

    async def _run(self) -> None:
        try:
            await self._server.run(devmode=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server's own errors are one-line RuntimeErrors
            logger.error("agent worker failed: %s", exc)
            self._report(WorkerStatus("failed", detail=str(exc), agent_name=self._agent_name))

    async def wait_registered(self, timeout_s: float) -> WorkerStatus:
        """Wait until the worker registered or failed (for tests and the CLI)."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout_s)
        except TimeoutError:
            raise TimeoutError(f"worker not registered after {timeout_s:.0f}s") from None
        return self.status

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Close every job (sessions, rooms, threads) and the server; idempotent."""
        if self._task is None:
            return
        task, self._task = self._task, None
        self._server.off("worker_registered", self._on_registered)
        try:
            await asyncio.wait_for(self._server.aclose(), timeout_s)
        except TimeoutError:
            logger.warning("agent worker did not close within %.0fs", timeout_s)
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._report(WorkerStatus("stopped", agent_name=self._agent_name))
