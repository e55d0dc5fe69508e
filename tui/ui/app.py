"""The dashboard: a coordinator that turns keys into backend work and events into panes.

Data flows one way: backend adapters post messages; handlers apply them to the pure state
model; a timer renders panes from that state. Key bindings only start backend work: panes
appear because the observer saw the agents, never because a key was pressed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.worker import Worker, WorkerState

from agents.voices import VoiceConfigError, resolve_voice_mode
from tui.core.agent_view import EXPECTED_ROLES
from tui.core.backend import (
    Backend,
    BackendSinks,
    ServerStatus,
    release_native_runtime,
)
from tui.core.control_plane import ControlPlaneError, RoomSummary
from tui.core.control_plane_jobs import RoomWorkers
from tui.core.diagnostics import Diagnostics, LogErrorCounter
from tui.core.events import DomainEvent, JobsListed, ObserverStatus, SessionEvent
from tui.core.jobs import lost_job_notice
from tui.core.latency import LatencyBook
from tui.core.log_bridge import LogCapture, default_log_path
from tui.core.notices import session_notice
from tui.core.settings import DashboardOptions
from tui.core.state import RoomState
from tui.core.worker_runner import WorkerStatus
from tui.ui.messages import (
    DomainEventMessage,
    ServerStatusChanged,
    WorkerStatusChanged,
)
from tui.ui.room_controls import RoomControls
from tui.ui.room_renderer import PANE_TITLES, RoomRenderer
from tui.ui.screens.diagnostics import DiagnosticsScreen
from tui.ui.screens.help import HelpScreen, binding_commands, describe_bindings
from tui.ui.widgets.agent_pane import AgentPane
from tui.ui.widgets.jobs_line import JobsLine
from tui.ui.widgets.log_pane import LogPane
from tui.ui.widgets.room_list import RoomList
from tui.ui.widgets.status_bar import StatusBar

logger = logging.getLogger("tui.app")


class DispatchApp(App[None]):
    """Live view of a two-agent LiveKit room, with its worker, log and room controls."""

    CSS_PATH = "app.tcss"
    TITLE = "dispatch-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_room", "New room"),
        Binding("d", "redispatch", "Re-dispatch"),
        Binding("x", "delete_room", "Delete room"),
        Binding("j", "next_room", "Next room", show=False),
        Binding("k", "previous_room", "Previous room", show=False),
        Binding("r", "refresh_rooms", "Refresh rooms", show=False),
        Binding("t", "diagnostics", "Troubleshoot"),
        Binding("l", "log_level", "Log level"),
        Binding("f", "log_follow", "Follow/pause log"),
        Binding("slash", "log_search", "Search log", key_display="/"),
        Binding("escape", "clear_search", "Clear log search", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        options: DashboardOptions,
        log_capture: LogCapture,
        *,
        rooms_interval_s: float = 2.0,
        render_check_s: float = 0.1,
        stream_render_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.options = options
        self.log_capture = log_capture
        self.state = RoomState()
        self.latency = LatencyBook()
        self.diagnostics = Diagnostics(self.state, in_process_worker=not options.no_worker)
        self._log_errors = LogErrorCounter(
            self.diagnostics, time.monotonic, lambda: log_capture.formatter.secrets
        )
        self.rooms: list[RoomSummary] = []
        self.room_workers = RoomWorkers()
        """The worker of each room (for the room list) and the lost jobs already reported."""
        self.worker_status = WorkerStatus("off")
        self.server_status = ServerStatus("starting")
        self.backend = Backend(
            options,
            BackendSinks(
                domain_event=self._post_domain_event,
                worker_status=self._post_worker_status,
                server_status=self._post_server_status,
                secrets=log_capture.add_secrets,
            ),
        )
        self._rooms_interval_s = rooms_interval_s
        self._render_check_s = render_check_s
        self.renderer = RoomRenderer(self, stream_render_s)
        self.controls = RoomControls(self)
        self._quitting = False
        self._backend_closed = False

    # -- layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(id="status-bar")
        with Horizontal(id="main"):
            with Vertical(id="rooms-column"):
                room_list = RoomList(id="room-list")
                room_list.border_title = "Rooms (j/k)"
                yield room_list
            with Vertical(id="room-column"):
                yield Static(
                    "no room observed: press n to create one", id="room-title", markup=False
                )
                yield JobsLine("jobs: no room observed", id="jobs-line", markup=False)
                with Horizontal(id="agent-panes"):
                    for role in EXPECTED_ROLES:
                        yield AgentPane(PANE_TITLES[role], role, id=f"pane-{role}")
                yield Horizontal(id="unmatched-panes")
                yield LogPane(self.log_capture.buffer, self.log_capture.log_path, id="log-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#unmatched-panes").display = False
        self.query_one(StatusBar).set_worker(
            "off" if self.options.no_worker else "waiting", "pending"
        )
        self.query_one(StatusBar).set_observer("no room", "pending")
        self.set_interval(self._render_check_s, self.renderer.render)
        logging.getLogger().addHandler(self._log_errors)
        # A bad voice setting is reported by the worker itself when it fails to start.
        with contextlib.suppress(VoiceConfigError):
            self.diagnostics.set_voice(
                resolve_voice_mode(self.options.voice),
                key_present=bool(os.environ.get("OPENAI_API_KEY")),
            )
        self._start_backend()

    # -- sinks (any thread)

    def _post_domain_event(self, event: DomainEvent) -> None:
        self.post_message(DomainEventMessage(event))

    def _post_worker_status(self, status: WorkerStatus) -> None:
        self.post_message(WorkerStatusChanged(status))

    def _post_server_status(self, status: ServerStatus) -> None:
        self.post_message(ServerStatusChanged(status))

    # -- backend work

    @work(exclusive=True, group="backend", exit_on_error=False, name="start backend")
    async def _start_backend(self) -> None:
        logger.info("log file: %s", self.log_capture.log_path)
        await self.backend.start()
        self.set_interval(self._rooms_interval_s, self.action_refresh_rooms)
        self.action_refresh_rooms()

    @work(exclusive=True, group="rooms", exit_on_error=False, name="list rooms")
    async def _refresh_rooms(self) -> None:
        rooms = await self.backend.list_rooms()
        rooms.sort(
            key=lambda room: room.created_at.timestamp() if room.created_at else 0.0, reverse=True
        )
        if self._backend_closed:
            return
        self.diagnostics.server_ok()
        observed = next((room for room in rooms if room.name == self.state.room), None)
        if observed is not None:
            self.diagnostics.set_room(
                observed.name, observed.created_at, now=time.monotonic(), wall_now=datetime.now(UTC)
            )
            dispatches, jobs = await self.backend.control.list_jobs(observed.name)
            self.diagnostics.set_dispatches(observed.name, dispatches, time.monotonic())
            self._post_domain_event(JobsListed(observed.name, tuple(jobs)))
        await self._look_up_a_worker(rooms)
        if self._backend_closed:
            return
        self.rooms = rooms
        room_list = self.query_one(RoomList)
        room_list.show_rooms(rooms, self.state.room or None, self._worker_labels(rooms))
        if self.backend.observed_room is None and rooms and not self._quitting:
            self.switch_room(rooms[0].name)

    async def _look_up_a_worker(self, rooms: list[RoomSummary]) -> None:
        """Learn the worker of one more room for the room list (one room per refresh)."""
        names = [room.name for room in rooms]
        self.room_workers.keep_only(names)
        room = self.room_workers.next_lookup(names, self.state.room, time.monotonic())
        if room is not None:
            # cosmetic: a room closing meanwhile is not worth an error
            with contextlib.suppress(ControlPlaneError):
                _, jobs = await self.backend.control.list_jobs(room)
                self.room_workers.learn(room, jobs)

    def _worker_labels(self, rooms: list[RoomSummary]) -> dict[str, str]:
        """Room -> ``AW_… pid 1234@host`` for the rooms whose worker is known."""
        self.room_workers.processes.update(self.state.worker_processes)
        return self.room_workers.labels(room.name for room in rooms)

    @work(exclusive=True, group="observer", exit_on_error=False, name="observe room")
    async def _observe(self, room: str | None) -> None:
        await self.backend.observe(room)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where backend failures become a status and a notification."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        message = str(error) or type(error).__name__
        if isinstance(error, ControlPlaneError):
            self.diagnostics.control_plane_error(error)
        logger.error("%s failed: %s", event.worker.name, message)
        self.notify(f"{event.worker.name} failed: {message}", severity="error", timeout=10)
        if event.worker.group == "observer":
            self.query_one(StatusBar).set_observer(f"failed: {message}", "bad")
        elif event.worker.group == "backend" and self.server_status.state != "failed":
            self.query_one(StatusBar).set_server(f"failed: {message}", "bad")

    def switch_room(self, room: str | None) -> None:
        """Observe ``room`` (None: no room) and show it."""
        if room == self.backend.observed_room and room == self.state.room:
            return
        self.state.reset(room or "", now=time.monotonic())
        self.renderer.invalidate()
        if room is not None:
            self.query_one(RoomList).select_room(room)
        self.renderer.show_room_title()
        self._observe(room)

    # -- messages

    def on_domain_event_message(self, message: DomainEventMessage) -> None:
        event = message.event
        if isinstance(event, ObserverStatus) and event.room == self.state.room:
            self.query_one(StatusBar).show_observer_status(event)
        self.state.apply(event)
        self.diagnostics.apply(event)
        if isinstance(event, JobsListed) and event.room == self.state.room:
            self._on_jobs_listed(event)
        elif isinstance(event, SessionEvent):
            self._on_session_event(event)

    def _on_jobs_listed(self, event: JobsListed) -> None:
        """Remember the room's worker for the room list; report each lost job once."""
        self.room_workers.learn(event.room, event.jobs)
        for job in self.room_workers.newly_lost(event.jobs):
            notice = lost_job_notice(job, self.state.process_of(job))
            logger.warning("room %s: %s", event.room, notice)
            self.notify(notice, severity="error", timeout=15, markup=False)

    def on_worker_status_changed(self, message: WorkerStatusChanged) -> None:
        status = self.worker_status = message.status
        self.diagnostics.worker_status(status, time.monotonic())
        self.query_one(StatusBar).show_worker_status(status)
        if status.state == "failed":
            self.notify(f"Agent worker failed: {status.detail}", severity="error", timeout=10)

    def on_server_status_changed(self, message: ServerStatusChanged) -> None:
        status = self.server_status = message.status
        self.query_one(StatusBar).show_server_status(status)
        if status.state == "ready":
            self.diagnostics.server_ok()
        elif status.state == "failed":
            self.diagnostics.server_failed(status.detail)
            self.notify(f"LiveKit server: {status.detail}", severity="error", timeout=10)

    def _on_session_event(self, event: SessionEvent) -> None:
        """Latency and notifications from an agent's session, as read from the room."""
        if event.kind == "turn":
            self.latency.record_turn(event.room, event.role, event.payload)
            self.renderer.invalidate()
        notice = session_notice(event)
        if notice is not None:
            self.notify(notice.text, severity=notice.severity, timeout=notice.timeout)

    @on(OptionList.OptionHighlighted, "#room-list")
    def _room_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.switch_room(event.option.id)

    # -- actions

    def action_new_room(self) -> None:
        self.controls.new_room()

    def action_redispatch(self) -> None:
        self.controls.redispatch()

    def action_delete_room(self) -> None:
        self.controls.delete_room()

    def action_next_room(self) -> None:
        self.query_one(RoomList).action_cursor_down()

    def action_previous_room(self) -> None:
        self.query_one(RoomList).action_cursor_up()

    def action_refresh_rooms(self) -> None:
        if self.backend.settings is not None and not self._quitting:
            self._refresh_rooms()

    def action_log_level(self) -> None:
        self.query_one(LogPane).cycle_level()

    def action_log_follow(self) -> None:
        self.query_one(LogPane).toggle_follow()

    def action_log_search(self) -> None:
        self.query_one(LogPane).open_search()

    def action_clear_search(self) -> None:
        self.query_one(LogPane).clear_search()

    def action_diagnostics(self) -> None:
        self.push_screen(DiagnosticsScreen(lambda: self.diagnostics.evaluate(time.monotonic())))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(describe_bindings(list(self.BINDINGS))))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from binding_commands(self.BINDINGS, self.run_action)

    @property
    def closing(self) -> bool:
        """Quitting or shut down: widgets may already be gone."""
        return self._quitting or self._backend_closed

    async def action_quit(self) -> None:
        """Leave; ``on_unmount`` closes sessions, observer and local server (under a second)."""
        self._quitting = True
        self.exit()

    async def shutdown(self) -> None:
        """Stop every worker and the backend; idempotent."""
        if self._backend_closed:
            return
        self._backend_closed = True
        logging.getLogger().removeHandler(self._log_errors)
        self.workers.cancel_group(self, "rooms")
        self.workers.cancel_group(self, "control")
        await self.backend.aclose()

    async def on_unmount(self) -> None:
        await self.shutdown()


def run_dashboard(options: DashboardOptions | None = None) -> int:
    """Run the dashboard until the user quits; the composition root calls this."""
    options = options or DashboardOptions(None, (), no_worker=False, voice=None)
    capture = LogCapture(default_log_path())
    capture.start()
    try:
        DispatchApp(options, capture).run()
    finally:
        release_native_runtime()
        capture.close()
    print(f"dispatch-tui: log written to {capture.log_path}")
    return 0
