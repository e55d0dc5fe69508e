"""Everything the dashboard drives, without Textual: the LiveKit server (local child or
remote), the control plane, the in-process agent worker and the room observer.

The app gives plain callables for what happens (domain events, worker and server status)
and calls the async methods from its workers. One instance per app run;
``aclose()`` leaves no task, thread or child process behind.
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
from agents.tokens import observer_token
from tui.core.control_plane import ControlPlane, CreatedRoom, RoomSummary
from tui.core.events import DomainEvent
from tui.core.local_server import LocalServer
from tui.core.observer import RoomObserver
from tui.core.settings import DashboardOptions, LiveKitSettings
from tui.core.worker_runner import InProcessWorker, WorkerStatus

logger = logging.getLogger("tui.backend")

OBSERVER_LEVEL_INTERVAL_S = 0.2
"""How often the dashboard's observer reports each agent's audio level.

5 updates a second per agent are plenty for a meter (the panes draw levels twice a second)
and keep diagnostics' sound intervals whole (they allow 0.35 s between audible levels). The
observer then takes 100 ms frames from the SDK (:func:`tui.core.audio_level.meter_frame_ms`).
"""


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """The LiveKit server the dashboard talks to."""

    state: str
    """``starting``, ``ready`` or ``failed``."""
    url: str = ""
    local: bool = False
    detail: str = ""


@dataclass
class BackendSinks:
    """Where the backend reports; each may be called from any thread."""

    domain_event: Callable[[DomainEvent], None]
    worker_status: Callable[[WorkerStatus], None]
    server_status: Callable[[ServerStatus], None]
    secrets: Callable[[list[str]], None]
    """Values to redact from every log line from now on."""


class Backend:
    """Server, control plane, worker and observer for one dashboard run."""

    def __init__(self, options: DashboardOptions, sinks: BackendSinks) -> None:
        self.options = options
        self._sinks = sinks
        self._local: LocalServer | None = None
        self._control: ControlPlane | None = None
        self._worker: InProcessWorker | None = None
        self._observer: RoomObserver | None = None
        self._observe_lock = asyncio.Lock()
        self.settings: LiveKitSettings | None = options.settings
        self.observed_room: str | None = None

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
        settings = self.settings
        if settings is None:
            self._sinks.server_status(
                ServerStatus("starting", local=True, detail="starting local livekit-server")
            )
            self._local = LocalServer()
            try:
                await self._local.astart()
            except Exception as exc:
                self._local = None
                self._sinks.server_status(ServerStatus("failed", local=True, detail=str(exc)))
                raise
            settings = LiveKitSettings(
                self._local.url, self._local.api_key, self._local.api_secret, "local server"
            )
            self.settings = settings
        self._sinks.secrets([settings.api_secret, os.environ.get("OPENAI_API_KEY", "")])
        self._control = ControlPlane.from_settings(settings)
        await self._control.__aenter__()
        self._sinks.server_status(
            ServerStatus(
                "ready", settings.url, local=self._local is not None, detail=settings.source
            )
        )
        if not self.options.no_worker:
            await self._start_worker(settings)

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
            self._sinks.worker_status(
                WorkerStatus("failed", detail=str(exc), agent_name=AGENT_NAME)
            )
            return
        # The worker says "failed" soon if it cannot register at all, but once registered it
        # outlives a slow server restart, reporting "reconnecting" (see tui.core.worker_runner).
        self._worker = InProcessWorker(server, self._sinks.worker_status, agent_name=AGENT_NAME)
        await self._worker.start()

    async def create_room(self, scenario_path: Path) -> CreatedRoom:
        """Create a room from a scenario file and dispatch the agents into it."""
        scenario = await asyncio.to_thread(load_scenario, scenario_path)
        created = await self.control.create_room(scenario)
        logger.info("created room %s (dispatch %s)", created.name, created.dispatch_id)
        return created

    async def list_rooms(self) -> list[RoomSummary]:
        return await self.control.list_rooms()

    async def redispatch(self, room: str) -> str:
        dispatch_id = await self.control.redispatch(room)
        logger.info("re-dispatched %s into %s (dispatch %s)", AGENT_NAME, room, dispatch_id)
        return dispatch_id

    async def delete_room(self, room: str) -> None:
        await self.control.delete_room(room)
        logger.info("deleted room %s", room)
        if room == self.observed_room:
            await self.observe(None)

    async def observe(self, room: str | None) -> None:
        """Switch the hidden observer to ``room`` (None: observe nothing)."""
        async with self._observe_lock:
            previous, self._observer = self._observer, None
            if previous is not None:
                await previous.aclose()
            self.observed_room = room
            if room is None:
                return
            settings = self.settings
            assert settings is not None
            token = observer_token(settings.api_key, settings.api_secret, room)
            observer = RoomObserver(
                settings.url,
                token,
                room,
                self._sinks.domain_event,
                level_interval_s=OBSERVER_LEVEL_INTERVAL_S,
            )
            self._observer = observer
            try:
                await observer.start()
            except BaseException:
                # Cancelled by a newer switch, or failed: never leave a half-joined observer.
                self._observer = None
                await observer.aclose()
                raise

    async def aclose(self) -> None:
        """Observer, worker (sessions, job threads), control plane, local server: in order."""
        logger.info("shutting down: observer")
        with contextlib.suppress(Exception):
            await self.observe(None)
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
