"""Run the multi-agent AgentServer inside the dashboard's event loop.

The server's jobs run on their own threads (JobExecutorType.THREAD); this module only owns the
server task and turns its life into WorkerStatus values for a plain callable sink.

Retry policy: the first registration must succeed within ``REGISTER_TIMEOUT_S`` (a wrong URL or
key says ``failed`` at once). Once registered, a lost server is retried for about an hour
(``RECONNECT_MAX_RETRY``), reported as ``reconnecting``: a restart of livekit-server, however
slow, leaves a worker that registers again, and the running jobs keep their threads meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from livekit.agents import AgentServer

from agents.worker_server import release_admission
from tui.core.infra_events import WorkerState, WorkerStatus

__all__ = ["InProcessWorker", "WorkerState", "WorkerStatus", "retry_budget_s"]

logger = logging.getLogger("tui.worker")

# AgentServer.run() copies its URL and credentials into os.environ; put them back afterwards
# so nothing else in the process (or its children) inherits a secret it was not given.
_ENV_WRITTEN_BY_SERVER = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")

REGISTER_TIMEOUT_S = 10.0
"""How long the first registration may take before the worker reports ``failed``."""
RECONNECT_MAX_RETRY = 360
"""Connection attempts AgentServer makes before it gives up; see ``retry_budget_s``."""
_CONNECTION_CHECK_S = 0.5
"""How often the worker's connection state is looked at (AgentServer reports no loss)."""


def retry_budget_s(max_retry: int) -> float:
    """Seconds AgentServer keeps retrying a lost server before it gives up.

    livekit-agents 1.8.9 ``_connection_task`` sleeps ``min(retry_count * 2, 10)`` s before
    each retry and raises once ``retry_count`` reaches ``max_retry``: 0 + 2 + 4 + 6 + 8 + 10
    + 10 + ... (about an hour for ``RECONNECT_MAX_RETRY``).
    """
    return float(sum(min(count * 2, 10) for count in range(max_retry)))


class InProcessWorker:
    """Start ``server.run()`` as a task, report registration, loss and failure, close cleanly.

    Takes over the server's ``max_retry`` (``RECONNECT_MAX_RETRY`` unless given).
    """

    def __init__(
        self,
        server: AgentServer,
        on_status: Callable[[WorkerStatus], None],
        *,
        agent_name: str = "",
        register_timeout_s: float = REGISTER_TIMEOUT_S,
        max_retry: int | None = None,
    ) -> None:
        self._server = server
        self._on_status = on_status
        self._agent_name = agent_name
        self._register_timeout_s = register_timeout_s
        # read at call time, so a test can shorten the budget of the dashboard's worker
        self._max_retry = RECONNECT_MAX_RETRY if max_retry is None else max_retry
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        """Set once the worker registered or failed."""
        self._registered = asyncio.Event()
        self._saved_env: dict[str, str | None] = {}
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
        self._registered.set()
        self._report(WorkerStatus("registered", worker_id, detail, self._agent_name))

    async def start(self) -> None:
        """Start the server task; returns at once, registration is reported later."""
        if self._task is not None:
            raise RuntimeError("worker already started")
        self._server.update_options(max_retry=self._max_retry)
        self._server.on("worker_registered", self._on_registered)
        self._report(WorkerStatus("starting", agent_name=self._agent_name))
        self._saved_env = {name: os.environ.get(name) for name in _ENV_WRITTEN_BY_SERVER}
        self._task = asyncio.create_task(self._run(), name="dispatch-tui-agent-server")

    async def _run(self) -> None:
        run = asyncio.ensure_future(self._server.run(devmode=True))
        try:
            registered = asyncio.ensure_future(self._registered.wait())
            try:
                await asyncio.wait(
                    {run, registered},
                    timeout=self._register_timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                registered.cancel()
            if not run.done() and not self._registered.is_set():
                self._server.off("worker_registered", self._on_registered)
                self._fail(
                    f"failed to connect to livekit: not registered within "
                    f"{self._register_timeout_s:g}s (check LIVEKIT_URL and the API key)"
                )
                await self._server.aclose()
            while not run.done():
                await asyncio.wait({run}, timeout=_CONNECTION_CHECK_S)
                self._check_connection()
            run.result()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server's own errors are one-line RuntimeErrors
            self._fail(str(exc))
        finally:
            if not run.done():
                run.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run

    def _fail(self, detail: str) -> None:
        logger.error("agent worker failed: %s", detail)
        self._report(WorkerStatus("failed", detail=detail, agent_name=self._agent_name))

    def _check_connection(self) -> None:
        """Report ``reconnecting`` once a registered worker is connecting again.

        AgentServer emits nothing when it loses the server; ``_connecting`` (livekit-agents
        1.8.9) is True from the loss until the next registration, which emits
        ``worker_registered`` again.
        """
        if self.status.state != "registered" or not getattr(self._server, "_connecting", False):
            return
        budget_min = retry_budget_s(self._max_retry) / 60
        logger.warning("agent worker lost the LiveKit server; reconnecting")
        self._report(
            WorkerStatus(
                "reconnecting",
                self.status.worker_id,
                f"lost the LiveKit server; retrying for up to {budget_min:.0f} min",
                self._agent_name,
            )
        )

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
        release_admission(self._server)
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
