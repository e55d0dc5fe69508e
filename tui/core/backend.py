"""Everything the dashboard drives, without Textual: the LiveKit server (local child or
remote), the control plane, the in-process agent worker and the room watch.

Whatever happens reaches one sink as events (:data:`tui.core.events.WatchEvent`): the server's
and the worker's status, the voice setting, and everything the :class:`RoomWatch` reports. The
app calls the async methods from its workers. One instance per app run; ``aclose()`` leaves no
task, thread or child process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agents.constants import AGENT_NAME
from agents.scenario import load_scenario
from tui.core.control_plane import ControlPlane, CreatedRoom, RoomSummary
from tui.core.diagnostics import Check
from tui.core.events import WatchEvent
from tui.core.infra_events import (
    ServerStatus,
    ServerStatusChanged,
    VoiceConfigured,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.local_server import LocalServer
from tui.core.log_errors import LogErrorCounter
from tui.core.record.store import Retention, RunStore
from tui.core.room_watch import RoomWatch
from tui.core.settings import DashboardOptions, LiveKitSettings
from tui.core.worker_runner import InProcessWorker

__all__ = ["Backend", "BackendSinks", "ServerStatus", "release_native_runtime"]

logger = logging.getLogger("tui.backend")

OBSERVER_LEVEL_INTERVAL_S = 0.2
"""How often the dashboard's observer reports each agent's audio level.

5 updates a second per agent are plenty for a meter (the panes draw levels twice a second)
and keep diagnostics' sound intervals whole (they allow 0.35 s between audible levels). The
observer then takes 100 ms frames from the SDK (:func:`tui.core.audio_level.meter_frame_ms`).
"""


@dataclass
class BackendSinks:
    """Where the backend reports; each may be called from any thread."""

    event: Callable[[WatchEvent], None]
    secrets: Callable[[list[str]], None]
    """Values to redact from every log line from now on."""


class Backend:
    """Server, control plane, worker and room watch for one dashboard run."""

    def __init__(
        self,
        options: DashboardOptions,
        sinks: BackendSinks,
        *,
        poll_interval_s: float = 2.0,
        log_errors: LogErrorCounter | None = None,
    ) -> None:
        self.options = options
        self._sinks = sinks
        self._poll_interval_s = poll_interval_s
        self._log_errors = log_errors
        self._local: LocalServer | None = None
        self._control: ControlPlane | None = None
        self._worker: InProcessWorker | None = None
        self._watch: RoomWatch | None = None
        self._deleted: set[str] = set()
        """Rooms deleted from here: never observed again (names are unique, never reused)."""
        self.settings: LiveKitSettings | None = options.settings

    @property
    def observed_room(self) -> str | None:
        """The room the watch observes (None: none)."""
        return self._watch.room if self._watch is not None else None

    @property
    def local_server(self) -> LocalServer | None:
        return self._local

    @property
    def worker(self) -> InProcessWorker | None:
        return self._worker

    @property
    def control(self) -> ControlPlane:
        if self._control is None:
            raise RuntimeError("backend not started")
        return self._control

    async def start(self) -> None:
        """Start (or attach to) the server, then the control plane and the worker."""
        self._announce_voice()
        settings = self.settings
        if settings is None:
            self._server_status(
                ServerStatus("starting", local=True, detail="starting local livekit-server")
            )
            self._local = LocalServer()
            try:
                await self._local.astart()
            except Exception as exc:
                self._local = None
                self._server_status(ServerStatus("failed", local=True, detail=str(exc)))
                raise
            settings = LiveKitSettings(
                self._local.url, self._local.api_key, self._local.api_secret, "local server"
            )
            self.settings = settings
        self._sinks.secrets([settings.api_secret, os.environ.get("OPENAI_API_KEY", "")])
        self._control = ControlPlane.from_settings(settings)
        await self._control.__aenter__()
        self._server_status(
            ServerStatus(
                "ready", settings.url, local=self._local is not None, detail=settings.source
            )
        )
        self._watch = RoomWatch(
            settings,
            self._control,
            self._sinks.event,
            poll_interval_s=self._poll_interval_s,
            level_interval_s=OBSERVER_LEVEL_INTERVAL_S,
            log_errors=self._log_errors,
            record=RunStore(retention=Retention.from_env()) if self.options.record else None,
        )
        self._watch.start()
        if not self.options.no_worker:
            await self._start_worker(settings)

    def _announce_voice(self) -> None:
        # A bad voice setting is reported by the worker itself when it fails to start.
        from agents.voices import VoiceConfigError, resolve_voice_mode

        with contextlib.suppress(VoiceConfigError):
            self._sinks.event(
                VoiceConfigured(
                    resolve_voice_mode(self.options.voice),
                    key_present=bool(os.environ.get("OPENAI_API_KEY", "").strip()),
                )
            )

    def _server_status(self, status: ServerStatus) -> None:
        self._sinks.event(ServerStatusChanged(status))

    def _worker_status(self, status: WorkerStatus) -> None:
        self._sinks.event(WorkerStatusChanged(status))

    async def _start_worker(self, settings: LiveKitSettings) -> None:
        # Imported here: livekit-agents and the voices load slowly, and --no-worker skips them.
        from agents.multi_agent_worker import build_server
        from agents.voices import VoiceConfigError

        try:
            server = build_server(
                voice=self.options.voice,
                ws_url=settings.url,
                api_key=settings.api_key,
                api_secret=settings.api_secret,
            )
        except VoiceConfigError as exc:
            logger.error("agent worker not started: %s", exc)
            self._worker_status(WorkerStatus("failed", detail=str(exc), agent_name=AGENT_NAME))
            return
        # The worker says "failed" soon if it cannot register at all, but once registered it
        # outlives a slow server restart, reporting "reconnecting" (see tui.core.worker_runner).
        self._worker = InProcessWorker(server, self._worker_status, agent_name=AGENT_NAME)
        await self._worker.start()

    async def create_room(self, scenario_path: Path) -> CreatedRoom:
        """Create a room from a scenario file and dispatch the agents into it."""
        scenario = await asyncio.to_thread(load_scenario, scenario_path)
        created = await self.control.create_room(scenario, watched=True)
        logger.info("created room %s (dispatch %s)", created.name, created.dispatch_id)
        return created

    async def list_rooms(self) -> list[RoomSummary]:
        return await self.control.list_rooms()

    async def redispatch(self, room: str) -> str:
        dispatch_id = await self.control.redispatch(room)
        logger.info("re-dispatched %s into %s (dispatch %s)", AGENT_NAME, room, dispatch_id)
        return dispatch_id

    async def delete_room(self, room: str) -> None:
        self._deleted.add(room)
        if room == self.observed_room:
            # Leave first: an observer still joining would re-create the deleted room (a join
            # creates a missing room) and sit alone in it while the dashboard thinks it left.
            await self.observe(None)
        await self.control.delete_room(room)
        logger.info("deleted room %s", room)

    async def observe(self, room: str | None) -> None:
        """Switch the hidden observer to ``room`` (None: observe nothing).

        A room deleted from here is not joined again (a stale selection would otherwise
        re-create it: a join creates a missing room); the observer observes nothing instead.
        """
        if room in self._deleted:
            room = None
        if self._watch is None:
            if room is None:
                return
            raise RuntimeError("backend not started")
        await self._watch.watch(room)

    def note_checks(self, checks: list[Check]) -> None:
        """Record the observed room's checks whose status changed (when recording)."""
        if self._watch is not None:
            self._watch.note_checks(checks)

    async def poll(self) -> None:
        """Poll the control plane now (rooms, the observed room's dispatches and jobs)."""
        if self._watch is not None:
            await self._watch.poll()

    async def aclose(self) -> None:
        """Observer, worker (sessions, job threads), control plane, local server: in order."""
        logger.info("shutting down: observer")
        if self._watch is not None:
            watch, self._watch = self._watch, None
            await watch.aclose()
        if self._worker is not None:
            logger.info("shutting down: agent worker")
            worker, self._worker = self._worker, None
            await worker.aclose()
        if self._control is not None:
            control, self._control = self._control, None
            with contextlib.suppress(Exception):
                await control.__aexit__(None, None, None)
        if self._local is not None:
            logger.info("shutting down: local livekit-server")
            local, self._local = self._local, None
            await local.astop()
        logger.info("shut down")


def release_native_runtime() -> None:
    """Shut the rtc SDK's native runtime down while Python is still whole.

    Left to ``atexit``, its tokio threads can call back into a finalizing interpreter and
    abort the process after a clean shutdown.
    """
    from agents.compat import release_rtc_client

    release_rtc_client()
