"""``dispatch-tui replay RUN_DIR``: the dashboard on a recorded call, with no server at all.

:class:`ReplayApp` is the dashboard (:class:`~tui.ui.app.DispatchApp`) whose backend is never
started: no livekit-server, no worker, no observer. Instead the record's events are re-timed
onto the monotonic clock and fed through the same path as a live room's (the app's message
handler, :meth:`~tui.core.room_model.RoomModel.apply`), so panes, transcript, turn-taking line,
timeline (``v``) and troubleshooting (``t``: the findings as recorded, turn-taking recomputed
from the audio levels) show the call as it was. By default the whole call is loaded at once
(its final state, the call having just ended); ``real_time`` plays it at the speed it happened.
"""

from __future__ import annotations

import asyncio
import time

from textual import work

from tui.core.diagnostics import Check
from tui.core.diagnostics.turn_taking import live_checks
from tui.core.infra_events import RecordingFinished, RoomSummary
from tui.core.log_bridge import LogCapture, default_log_path
from tui.core.record.notes import RecordNote
from tui.core.record.replay import Recording, retime
from tui.core.settings import DashboardOptions
from tui.ui.app import DispatchApp
from tui.ui.messages import DomainEventMessage
from tui.ui.widgets.room_list import RoomList
from tui.ui.widgets.status_bar import StatusBar

BATCH = 200
"""Events applied between two yields to the screen when loading a whole call at once."""
READ_ONLY = "a replay has no server: rooms cannot be created, dispatched or deleted"


class ReplayApp(DispatchApp):
    """The dashboard showing ``recording``; see the module docstring."""

    def __init__(
        self, recording: Recording, log_capture: LogCapture, *, real_time: bool = False
    ) -> None:
        options = DashboardOptions(None, (), no_worker=True, voice=None, record=False)
        super().__init__(options, log_capture)
        self.recording = recording
        self.real_time = real_time
        self.replayed = False
        """Every event of the record has been applied."""
        self.sub_title = f"replay of {recording.run.path}"

    @work(exclusive=True, group="backend", exit_on_error=False, name="replay")
    async def _start_backend(self) -> None:
        """Instead of a server, a worker and an observer: the record's events."""
        recording = self.recording
        bar = self.query_one(StatusBar)
        bar.set_server("none (replay)", "ok")
        bar.set_worker("none (replay)", "ok")
        # the record's clock 0 on the monotonic clock: now (real time), or so that the call
        # has just ended (all at once)
        started = time.monotonic() - (0.0 if self.real_time else recording.duration_s)
        self.model.reset(recording.room, now=started)
        summary = RoomSummary(recording.room, "", 0, None, recording.scenario or None)
        self.query_one(RoomList).show_rooms([summary], recording.room, {})
        self.model.apply(RecordingFinished(recording.room, str(recording.run.path), at=started))
        for index, event in enumerate(recording.events):
            moved = retime(event, started)
            if self.real_time:
                await asyncio.sleep(max(0.0, moved.at - time.monotonic()))
            elif index % BATCH == 0:
                await asyncio.sleep(0)
            if isinstance(moved, RecordNote):
                self.model.apply(moved)
            else:
                self.on_domain_event_message(DomainEventMessage(moved))
        if recording.complete:
            self.model.turns.finish()
        self.replayed = True
        bar.set_observer(f"replayed {recording.room} ({len(recording.events)} events)", "ok")
        self.renderer.invalidate()

    def current_checks(self, now: float) -> list[Check]:
        """The findings as recorded, turn-taking as heard in the replayed audio levels."""
        recorded = [c for c in self.model.findings.latest() if not c.id.startswith("turn.")]
        return recorded + live_checks(self.model.turns, now)

    def switch_room(self, room: str | None) -> None:
        """One room only: the recorded one."""

    def action_new_room(self) -> None:
        self.notify(READ_ONLY, severity="warning")

    def action_redispatch(self) -> None:
        self.notify(READ_ONLY, severity="warning")

    def action_delete_room(self) -> None:
        self.notify(READ_ONLY, severity="warning")


def run_replay(recording: Recording, *, real_time: bool = False) -> int:
    """Show ``recording`` until the user quits; the composition root calls this."""
    capture = LogCapture(default_log_path())
    capture.start()
    try:
        ReplayApp(recording, capture, real_time=real_time).run()
    finally:
        capture.close()
    return 0
