"""The one reducer: every event a watch reports goes through :meth:`RoomModel.apply`.

The room state (what the panes draw), who speaks and the turn-taking heard in the audio
(:class:`~tui.core.live_turns.LiveTurns`), the latency book (per-turn latency from the agents'
session events), the diagnostics (the troubleshooting checks), the checks' changes over the call
(:class:`~tui.core.finding_log.FindingLog`) and the status of the server, worker and room list
are all read from here, so the dashboard, ``doctor`` and the tests see the
same facts from the same events. Nothing else feeds the diagnostics. A replay feeds a call
record's events (its notes too: recorded findings) through the same :meth:`RoomModel.apply`.
"""

from __future__ import annotations

from agents.constants import AGENT_NAME
from tui.core.diagnostics import Check, Diagnostics, Thresholds
from tui.core.events import DOMAIN_EVENT_TYPES, DomainEvent, SessionEvent, WatchEvent
from tui.core.finding_log import FindingLog
from tui.core.infra_events import (
    RecordingFinished,
    RecordingStarted,
    RoomsListed,
    RoomSummary,
    ServerStatus,
    ServerStatusChanged,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.latency import LatencyBook
from tui.core.live_turns import LiveTurns
from tui.core.record.notes import Finding, RecordNote
from tui.core.roles import RoleMatch
from tui.core.state import RoomState


class RoomModel:
    """State, latency, diagnostics and status of one dashboard or ``doctor`` run.

    ``in_process_worker`` says whether this run hosts the agent worker (then its status and log
    reach the model); ``doctor`` and ``--no-worker`` infer the worker from the room.
    """

    def __init__(
        self,
        *,
        in_process_worker: bool,
        expected_agent_name: str = AGENT_NAME,
        thresholds: Thresholds | None = None,
        matches: tuple[RoleMatch, ...] = (),
    ) -> None:
        self.state = RoomState(matches=matches)
        self.turns = LiveTurns()
        """Speaking from the audio, and the turn-taking figures, of the observed room."""
        self.findings = FindingLog()
        """The observed room's checks as they changed."""
        self.latency = LatencyBook()
        self.diagnostics = Diagnostics(
            self.state,
            turns=self.turns,
            expected_agent_name=expected_agent_name,
            in_process_worker=in_process_worker,
            thresholds=thresholds,
        )
        self.server = ServerStatus("starting")
        self.worker = WorkerStatus("off")
        self.rooms: tuple[RoomSummary, ...] = ()
        """The server's rooms as last listed, newest first."""
        self.recording: dict[str, str] = {}
        """Room -> the run directory its record is (or was last) written to."""

    @property
    def room(self) -> str:
        """The observed room ("" when none)."""
        return self.state.room

    def reset(self, room: str, *, now: float) -> None:
        """Observe ``room`` from now on: the room's own state starts over."""
        self.state.reset(room, now=now)
        self.turns.reset(room)
        self.findings.reset()

    def apply(self, event: WatchEvent | RecordNote) -> bool:
        """Apply one event; True if anything the panes draw changed."""
        if isinstance(event, RecordNote):
            if isinstance(event, Finding) and event.room == self.state.room:
                self.findings.apply(event)
            return False  # the rest of a record's notes are derived from its events
        changed = False
        if self.turns.room != self.state.room:  # the state was reset on its own
            self.turns.reset(self.state.room)
            self.findings.reset()
        if isinstance(event, DOMAIN_EVENT_TYPES):
            room_event: DomainEvent = event  # type: ignore[assignment]
            changed = self.state.apply(room_event)
        if self.turns.apply(event):
            self.state.touch()
            changed = True
        if isinstance(event, SessionEvent) and event.kind == "turn":
            changed = self.latency.record_turn(event.room, event.role, event.payload) or changed
        elif isinstance(event, ServerStatusChanged):
            self.server = event.status
        elif isinstance(event, WorkerStatusChanged):
            self.worker = event.status
        elif isinstance(event, RecordingStarted | RecordingFinished):
            self.recording[event.room] = event.run_dir
            changed = event.room == self.state.room
        elif isinstance(event, RoomsListed):
            self.rooms = tuple(
                sorted(
                    event.rooms,
                    key=lambda room: room.created_at.timestamp() if room.created_at else 0.0,
                    reverse=True,
                )
            )
        self.diagnostics.apply(event)
        return changed

    def evaluate(self, now: float) -> list[Check]:
        """The troubleshooting checks at monotonic time ``now``."""
        return self.diagnostics.evaluate(now)

    def note_checks(self, checks: list[Check], now: float) -> None:
        """Mark the checks whose status changed (the timeline's finding markers)."""
        self.findings.note(checks, now)
