"""The dashboard: a coordinator that turns keys into backend work and events into panes.

Data flows one way: backend adapters post messages; handlers apply them to the pure state
model; a timer renders panes from that state. Key bindings only start backend work: panes
appear because the observer saw the agents, never because a key was pressed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.worker import Worker, WorkerState

from tui.core.backend import Backend, BackendSinks, release_native_runtime
from tui.core.control_plane import ControlPlaneError
from tui.core.control_plane_jobs import RoomWorkers
from tui.core.diagnostics import Check, Diagnostics
from tui.core.events import JobsListed, ObserverStatus, SessionEvent, WatchEvent
from tui.core.infra_events import (
    ControlPlaneAnswered,
    RoomsListed,
    RoomSummary,
    ServerStatus,
    ServerStatusChanged,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.jobs import ended_jobs, lost_job_notice
from tui.core.latency import LatencyBook
from tui.core.log_bridge import LogCapture, default_log_path
from tui.core.log_errors import LogErrorCounter
from tui.core.notices import session_notice
from tui.core.room_model import RoomModel
from tui.core.settings import DashboardOptions
from tui.core.state import RoomState
from tui.ui.messages import DomainEventMessage
from tui.ui.pane_grid import PaneGrid
from tui.ui.room_controls import RoomControls
from tui.ui.room_renderer import RoomRenderer
from tui.ui.screens.diagnostics import DiagnosticsScreen
from tui.ui.screens.help import HelpScreen, binding_commands, describe_bindings
from tui.ui.screens.timeline import TimelineScreen
from tui.ui.widgets.jobs_line import JobsLine
from tui.ui.widgets.log_pane import LogPane
from tui.ui.widgets.room_list import RoomList
from tui.ui.widgets.status_bar import StatusBar
from tui.ui.widgets.turns_line import TurnsLine

logger = logging.getLogger("tui.app")


class DispatchApp(App[None]):
    """Live view of a LiveKit room of 2 to 6 agents, with its worker, log and room controls."""

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
        Binding("v", "timeline", "Timeline"),
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
        self.model = RoomModel(in_process_worker=not options.no_worker, matches=options.matches)
        """The one reducer: state, latency, diagnostics and status all read from it."""
        self._log_errors = LogErrorCounter(time.monotonic, lambda: log_capture.formatter.secrets)
        self.room_workers = RoomWorkers()
        """The worker of each room (for the room list) and the lost jobs already reported."""
        self.backend = Backend(
            options,
            BackendSinks(event=self._post_event, secrets=log_capture.add_secrets),
            poll_interval_s=rooms_interval_s,
            log_errors=self._log_errors,
        )
        self._render_check_s = render_check_s
        self.renderer = RoomRenderer(self, stream_render_s)
        self.controls = RoomControls(self)
        self._control_plane_failing = False
        self._quitting = False
        self._backend_closed = False

    @property
    def state(self) -> RoomState:
        return self.model.state

    @property
    def diagnostics(self) -> Diagnostics:
        return self.model.diagnostics

    @property
    def latency(self) -> LatencyBook:
        return self.model.latency

    @property
    def rooms(self) -> tuple[RoomSummary, ...]:
        """The server's rooms as last listed, newest first."""
        return self.model.rooms

    @property
    def worker_status(self) -> WorkerStatus:
        return self.model.worker

    @property
    def server_status(self) -> ServerStatus:
        return self.model.server

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
                yield TurnsLine("turns: no room observed", id="turns-line", markup=False)
                yield PaneGrid(id="agent-panes")
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
        self._start_backend()

    # -- the sink (any thread)

    def _post_event(self, event: WatchEvent) -> None:
        self.post_message(DomainEventMessage(event))

    # -- backend work

    @work(exclusive=True, group="backend", exit_on_error=False, name="start backend")
    async def _start_backend(self) -> None:
        logger.info("log file: %s", self.log_capture.log_path)
        await self.backend.start()

    @work(exclusive=True, group="rooms", exit_on_error=False, name="list rooms")
    async def _poll_now(self) -> None:
        await self.backend.poll()

    def _worker_labels(self, rooms: Iterable[RoomSummary]) -> dict[str, str]:
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
            self._post_event(ControlPlaneAnswered(False, error.kind, str(error)))
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
        self.model.reset(room or "", now=time.monotonic())
        self.renderer.invalidate()
        if room is not None:
            self.query_one(RoomList).select_room(room)
        self.renderer.show_room_title()
        self._observe(room)

    # -- messages

    def on_domain_event_message(self, message: DomainEventMessage) -> None:
        """Every event goes to the model first; then the few that the screen reacts to."""
        event = message.event
        self.model.apply(event)
        if isinstance(event, ObserverStatus) and event.room == self.state.room:
            self.query_one(StatusBar).show_observer_status(event)
        elif isinstance(event, JobsListed):
            self._on_jobs_listed(event)
        elif isinstance(event, SessionEvent):
            self._on_session_event(event)
        elif isinstance(event, RoomsListed):
            self._on_rooms_listed()
        elif isinstance(event, WorkerStatusChanged):
            self._on_worker_status(event.status)
        elif isinstance(event, ServerStatusChanged):
            self._on_server_status(event.status)
        elif isinstance(event, ControlPlaneAnswered):
            self._on_control_plane(event)

    def _on_rooms_listed(self) -> None:
        if self.closing:
            return
        rooms = self.rooms
        self.room_workers.keep_only(room.name for room in rooms)
        try:
            room_list = self.query_one(RoomList)
        except NoMatches:
            return  # the app is exiting: its screen was torn down before on_unmount ran
        room_list.show_rooms(list(rooms), self.state.room or None, self._worker_labels(rooms))
        if self.backend.observed_room is None and rooms:
            self.switch_room(rooms[0].name)

    def _on_jobs_listed(self, event: JobsListed) -> None:
        """Remember the room's worker for the room list; report each lost job once."""
        self.room_workers.learn(event.room, event.jobs)
        if event.room != self.state.room:
            return
        jobs = ended_jobs(event.jobs) if self.state.call_ended else event.jobs
        for job in self.room_workers.newly_lost(jobs):
            notice = lost_job_notice(job, self.state.process_of(job))
            logger.warning("room %s: %s", event.room, notice)
            self.notify(notice, severity="error", timeout=15, markup=False)

    def _on_worker_status(self, status: WorkerStatus) -> None:
        self.query_one(StatusBar).show_worker_status(status)
        if status.state == "failed":
            self.notify(f"Agent worker failed: {status.detail}", severity="error", timeout=10)

    def _on_server_status(self, status: ServerStatus) -> None:
        self.query_one(StatusBar).show_server_status(status)
        if status.state == "failed":
            self.notify(f"LiveKit server: {status.detail}", severity="error", timeout=10)

    def _on_control_plane(self, event: ControlPlaneAnswered) -> None:
        """Say so once when the server stops answering, and once when it is back."""
        failing = not event.ok and event.kind != "not_found"
        if failing and not self._control_plane_failing:
            logger.error("control plane: %s", event.detail)
            self.notify(f"LiveKit server: {event.detail}", severity="error", timeout=10)
        elif event.ok and self._control_plane_failing:
            logger.info("control plane answers again")
        self._control_plane_failing = failing

    def _on_session_event(self, event: SessionEvent) -> None:
        """Latency and notifications from an agent's session, as read from the room."""
        if event.kind == "turn":
            self.renderer.invalidate()  # the model recorded its latency
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
            self._poll_now()

    def action_log_level(self) -> None:
        self.query_one(LogPane).cycle_level()

    def action_log_follow(self) -> None:
        self.query_one(LogPane).toggle_follow()

    def action_log_search(self) -> None:
        self.query_one(LogPane).open_search()

    def action_clear_search(self) -> None:
        self.query_one(LogPane).clear_search()

    def current_checks(self, now: float) -> list[Check]:
        """The troubleshooting checks the status bar and ``t`` show."""
        return self.diagnostics.evaluate(now)

    def action_diagnostics(self) -> None:
        self.push_screen(DiagnosticsScreen(lambda: self.current_checks(time.monotonic())))

    def action_timeline(self) -> None:
        self.push_screen(TimelineScreen(self.model))

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
