"""The read-only facts the checks read: what the engine knows about one room at one instant.

:class:`~tui.core.diagnostics.engine.Diagnostics` gathers its inputs into the records below and,
for each evaluation, freezes a :class:`Facts` snapshot; each check group (``infra``, ``voice``,
``room``, ``audio``) is a set of plain functions of it. No check can change what another reads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from tui.core.diagnostics.check import Thresholds
from tui.core.jobs import lost_job_finding, running_job
from tui.core.live_turns import LiveTurns
from tui.core.state import RoomState

if TYPE_CHECKING:
    from tui.core.worker_runner import WorkerStatus

SOUND_HISTORY: Final = 50
"""Closed sound intervals kept per participant."""

ServerState: TypeAlias = Literal["unknown", "ok", "unreachable", "credentials", "error"]


@dataclass(frozen=True, slots=True)
class DispatchSeen:
    """A dispatch of the observed room as the engine last listed it."""

    dispatch_id: str
    agent_name: str
    num_jobs: int
    since: float
    """When it existed at the latest (room creation for those found on the first poll)."""


@dataclass(slots=True)
class SessionInfo:
    """What one agent's session reported (in-process worker only)."""

    started_at: float | None = None
    identity: str = ""
    failed: str = ""
    error: str = ""
    error_recoverable: bool = True
    error_at: float | None = None
    closed: str = ""
    voice_mode: str = ""
    turns: int = 0
    reply_s: float | None = None
    """The last turn's reply latency: asked to first audio (``e2e_latency``)."""


@dataclass(slots=True)
class RoomSessions:
    """What the sessions of one room reported."""

    roles: dict[str, SessionInfo] = field(default_factory=dict)
    realtime_error: str = ""
    realtime_recoverable: bool = True
    realtime_error_at: float | None = None
    realtime_error_role: str = ""
    realtime_error_turns: int = 0
    """That role's turns when the error came: more since means its session came back (counted
    per role: one participant's events arrive in order, two participants' may not)."""
    turns: int = 0
    ended: str = ""

    def role(self, role: str) -> SessionInfo:
        return self.roles.setdefault(role, SessionInfo())


@dataclass(slots=True)
class Heard:
    """Per-participant sound bookkeeping from the level meter and attributes."""

    first_level_at: float | None = None
    first_sound_at: float | None = None
    sound_start: float | None = None
    sound_end: float | None = None
    sound_intervals: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=SOUND_HISTORY)
    )
    claims_speaking_since: float | None = None
    """When ``lk.agent.state`` became ``speaking`` (None while it is not)."""
    last_transcript_at: float | None = None

    def intervals(self) -> list[tuple[float, float]]:
        """Closed sound intervals plus the open one."""
        current = (
            [(self.sound_start, self.sound_end)]
            if self.sound_start is not None and self.sound_end is not None
            else []
        )
        return [*self.sound_intervals, *current]


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the checks may read at ``now``; built by ``Diagnostics.evaluate``."""

    now: float
    t: Thresholds
    state: RoomState
    """The room model (shared with the dashboard); checks only read it."""
    turns: LiveTurns
    """Speaking and turn-taking heard in the audio; checks only read it."""
    room: str
    in_process_worker: bool
    expected_agent_name: str
    # server and control plane
    server_state: ServerState
    server_detail: str
    # the in-process worker
    worker: WorkerStatus | None
    worker_since: float | None
    worker_registered_at: float | None
    # voice
    voice_mode: str | None
    key_present: bool | None
    key_rejected: str
    key_rejected_at: float | None
    realtime_worked_at: float | None
    # the observed room
    room_info_for: str
    room_created_at: float | None
    dispatch_room: str
    dispatches: tuple[DispatchSeen, ...]
    sessions: RoomSessions | None
    heard: Mapping[str, Heard]
    # worker log
    log_errors: int
    log_last: str
    log_last_at: float | None

    def agents_joined(self) -> bool:
        """An agent is (or was) in the room: some worker took its job."""
        return any(view.is_agent or view.kind == "agent" for view in self.state.participants())

    def observing(self) -> bool:
        """The observer is in the room, so what it does not see is really missing."""
        return self.state.observer_state in ("connected", "reconnected")

    def expected(self) -> list[DispatchSeen]:
        """The room's dispatches to the agent name the worker serves."""
        return [d for d in self.dispatches if d.agent_name == self.serving_name()]

    def serving_name(self) -> str:
        """The agent name the worker registered (or the expected one before it does)."""
        worker = self.worker
        if worker is not None and worker.agent_name:
            return worker.agent_name
        return self.expected_agent_name

    def job_unanswered_for(self) -> float | None:
        """Seconds the expected dispatch has gone without a job, None once answered/unknown."""
        expected = self.expected()
        if not expected or self.agents_joined() or any(d.num_jobs for d in expected):
            return None
        return max(0.0, self.now - min(d.since for d in expected))

    def lost_job(self) -> str | None:
        """The finding for a lost job of the room when none of its jobs runs any more."""
        if running_job(self.state.jobs) is not None:
            return None
        lost = [job for job in self.state.jobs if job.status == "lost"]
        return lost_job_finding(lost[-1], self.state.process_of(lost[-1])) if lost else None
