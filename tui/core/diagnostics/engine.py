"""Live troubleshooting: every failure of the worker guide's troubleshooting list, as checks.

:class:`Diagnostics` is plain Python (no Textual, no IO, no clock of its own). It is fed the same
inputs as the dashboard: domain events (through the shared :class:`~tui.core.state.RoomState`), the
server and control-plane status, the in-process worker's status, the worker's session events,
worker-log errors, and the observed room's dispatches and creation time. ``evaluate(now)`` turns
what it knows into :class:`Check` values, each ``ok``/``warn``/``fail``/``pending`` with a
one-line finding and a one-line fix. ``evaluate`` does not change anything, so the same inputs
and ``now`` give the same checks: the panel, the header and ``dispatch-tui doctor`` share it.

Facts measured on livekit-server 1.13.5 (see tests/test_faults_e2e.py):

- ``ListDispatch`` fills ``AgentDispatch.state.jobs`` only about 5 s after a worker accepted the
  job, and never when no worker serves the agent name. "The job was accepted" is therefore
  "``num_jobs > 0`` or an agent joined the room", and its absence is detected after
  :attr:`Thresholds.dispatch_job_s`, well before the jobs list would tell.
- A dispatch created while no worker serves its agent name is never delivered to a worker that
  registers later: the room needs a new dispatch.
- A participant that publishes nothing is announced to others about 2.8 s after it joined; the
  observer dates live joins by the server's join time, so track grace counts from the join.
- A track whose publisher denies subscriptions (``set_track_subscription_permissions``) stays
  published and unsubscribed with no rtc event at all (no ``track_subscription_failed``): only
  the time it has gone unsubscribed tells.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeAlias

from agents.constants import AGENT_NAME, AGENT_STATE_ATTRIBUTE
from tui.core.audio_level import SOUND_THRESHOLD_DBFS
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    DomainEvent,
    ParticipantJoined,
    TranscriptSegment,
)
from tui.core.redaction import redact, redact_tokens
from tui.core.state import (
    EXPECTED_ROLES,
    AgentRole,
    AgentView,
    RoomState,
    lost_job_finding,
    overlap_seconds,
    running_job,
)

if TYPE_CHECKING:
    from tui.core.control_plane import ControlPlaneError
    from tui.core.worker_runner import WorkerStatus

Status: TypeAlias = Literal["ok", "warn", "fail", "pending"]
STATUS_ORDER: Final[dict[Status, int]] = {"ok": 0, "pending": 1, "warn": 2, "fail": 3}
"""Severity for :func:`worst`: a failure outranks a warning, which outranks "not known yet"."""

ROLE_LABELS: Final[dict[AgentRole, str]] = {"dispatcher": "Tim", "driver": "Chris"}
_SOUND_GAP_S: Final = 0.35
"""Levels arrive every 0.1 s: a longer gap between audible levels ends a sound interval."""
_SOUND_HISTORY: Final = 50
_SESSION_ROOMS: Final = 16
"""Rooms whose session events are kept (the worker may serve rooms nobody observes)."""
_KEY_REJECTED_MARKERS: Final = ("401", "invalid_api_key", "api key was rejected", "incorrect api")


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnosis: what was checked, how it stands, what was found and what to do."""

    id: str
    title: str
    status: Status
    finding: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long a condition may last before it counts as a failure (seconds)."""

    dispatch_job_s: float = 3.0
    """A dispatch with no job and no agent in the room after this long was not accepted."""
    agent_join_s: float = 5.0
    """Grace for an agent to appear after observing starts (a job takes about 1 s locally)."""
    track_grace_s: float = 3.0
    """Grace for an agent's audio track to be published after it joined, and subscribed after
    it was published. A healthy agent publishes about 0.6 s after joining and the observer
    subscribes within about 0.3 s. The join is dated by the server (the observer reports it), so
    the ~2.8 s the server takes to announce a participant that publishes nothing are part of the
    grace, not added to it: a missing track is reported about 3 s after the agent joined."""
    silent_speaking_s: float = 1.5
    """An agent "speaking" (``lk.agent.state``) with a silent track for this long fails."""
    silent_track_s: float = 30.0
    """A subscribed track with no sound at all for this long earns a warning."""
    one_sided_s: float = 20.0
    """One agent spoke and the other has said nothing for this long."""
    overlap_s: float = 1.0
    """Both agents audible at once for this long in total fails (the relay never overlaps)."""
    worker_start_s: float = 15.0
    """The in-process worker still not registered after this long earns a warning."""
    log_recent_s: float = 60.0
    """Worker-log errors younger than this fail; older ones only warn."""


class DispatchLike(Protocol):
    """What the engine reads of a dispatch (``tui.core.control_plane.DispatchSummary``)."""

    @property
    def dispatch_id(self) -> str: ...
    @property
    def agent_name(self) -> str: ...
    @property
    def num_jobs(self) -> int: ...


@dataclass(frozen=True, slots=True)
class _Dispatch:
    dispatch_id: str
    agent_name: str
    num_jobs: int
    since: float
    """When it existed at the latest (room creation for those found on the first poll)."""


@dataclass(slots=True)
class _SessionInfo:
    """What one agent's session reported (in-process worker only)."""

    started_at: float | None = None
    identity: str = ""
    failed: str = ""
    error: str = ""
    error_recoverable: bool = True
    error_at: float | None = None
    closed: str = ""
    voice_mode: str = ""


@dataclass(slots=True)
class _RoomSessions:
    roles: dict[str, _SessionInfo] = field(default_factory=dict)
    realtime_error: str = ""
    realtime_recoverable: bool = True
    realtime_error_at: float | None = None
    turns: int = 0
    ended: str = ""

    def role(self, role: str) -> _SessionInfo:
        return self.roles.setdefault(role, _SessionInfo())


@dataclass(slots=True)
class _Heard:
    """Per-participant sound bookkeeping from the level meter and attributes."""

    first_level_at: float | None = None
    first_sound_at: float | None = None
    sound_start: float | None = None
    sound_end: float | None = None
    sound_intervals: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=_SOUND_HISTORY)
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


class Diagnostics:
    """The checks of one dashboard (or ``doctor``) run; see the module docstring.

    ``state`` is the room model the app already maintains: pass it to share it (then call
    :meth:`apply` after ``state.apply`` for the engine's own bookkeeping), or leave it out and
    the engine keeps its own, which :meth:`apply` then updates too.
    ``in_process_worker`` says whether worker status, session events and the worker log reach
    the engine; without them (``doctor``, ``--no-worker``) those checks are inferred from the
    room or left out.
    """

    def __init__(
        self,
        state: RoomState | None = None,
        *,
        expected_agent_name: str = AGENT_NAME,
        in_process_worker: bool = True,
        thresholds: Thresholds | None = None,
    ) -> None:
        self._owns_state = state is None
        self.state = state if state is not None else RoomState()
        self.expected_agent_name = expected_agent_name
        self.in_process_worker = in_process_worker
        self.thresholds = thresholds or Thresholds()
        # server and control plane
        self._server_state: Literal["unknown", "ok", "unreachable", "credentials", "error"] = (
            "unknown"
        )
        self._server_detail = ""
        # worker
        self._worker: WorkerStatus | None = None
        self._worker_since: float | None = None
        self._worker_registered_at: float | None = None
        # voice (realtime needs a key)
        self._voice_mode: str | None = None
        self._key_present: bool | None = None
        self._key_rejected = ""
        self._key_rejected_at: float | None = None
        self._realtime_worked_at: float | None = None
        # the observed room
        self._room_info_for = ""
        self._room_created_at: float | None = None
        self._dispatch_room = ""
        self._dispatches: dict[str, _Dispatch] = {}
        self._heard_room = ""
        self._heard: dict[str, _Heard] = {}
        self._sessions: dict[str, _RoomSessions] = {}
        # worker log (may be fed from any thread through LogErrorCounter)
        self._log_errors = 0
        self._log_last = ""
        self._log_last_at: float | None = None

    # ------------------------------------------------------------------ inputs

    def apply(self, event: DomainEvent) -> None:
        """Note a domain event (and apply it to the state when the engine owns it)."""
        if self._owns_state:
            self.state.apply(event)
        if event.room != self.state.room:
            return
        if self._heard_room != event.room:
            self._heard_room, self._heard = event.room, {}
        if isinstance(event, AudioLevel):
            self._on_level(event)
        elif isinstance(event, AttributesChanged | ParticipantJoined):
            heard = self._heard.setdefault(event.identity, _Heard())
            speaking = dict(event.attributes).get(AGENT_STATE_ATTRIBUTE) == "speaking"
            if speaking and heard.claims_speaking_since is None:
                heard.claims_speaking_since = event.at
            elif not speaking:
                heard.claims_speaking_since = None
        elif isinstance(event, TranscriptSegment):
            self._heard.setdefault(event.identity, _Heard()).last_transcript_at = event.at

    def _on_level(self, event: AudioLevel) -> None:
        heard = self._heard.setdefault(event.identity, _Heard())
        if heard.first_level_at is None:
            heard.first_level_at = event.at
        if event.rms_dbfs <= SOUND_THRESHOLD_DBFS:
            return
        if heard.first_sound_at is None:
            heard.first_sound_at = event.at
        if heard.sound_end is not None and event.at - heard.sound_end <= _SOUND_GAP_S:
            heard.sound_end = event.at
            return
        if heard.sound_start is not None and heard.sound_end is not None:
            heard.sound_intervals.append((heard.sound_start, heard.sound_end))
        # The level covers the interval that ended at event.at: the sound began before it.
        heard.sound_start, heard.sound_end = event.at - 0.1, event.at

    def server_ok(self) -> None:
        """A control-plane call (or the server start) succeeded."""
        self._server_state, self._server_detail = "ok", ""

    def server_failed(self, message: str, kind: str = "server") -> None:
        """The server could not be started or a call failed; ``kind`` as ControlPlaneError."""
        state: Literal["unreachable", "credentials", "error"]
        state = kind if kind in ("unreachable", "credentials") else "error"  # type: ignore[assignment]
        self._server_state, self._server_detail = state, _one_line(message)

    def control_plane_error(self, error: ControlPlaneError) -> None:
        """A ``ControlPlaneError``: unreachable and credentials become server checks."""
        if error.kind == "not_found":
            return  # the room went away: not a server problem
        self.server_failed(str(error), error.kind)

    def worker_status(self, status: WorkerStatus, at: float) -> None:
        """The in-process worker's status (``tui.core.worker_runner.WorkerStatus``)."""
        if self._worker is None or self._worker.state != status.state:
            self._worker_since = at
        self._worker = status
        if status.state == "registered":
            self._worker_registered_at = at
        if status.state == "failed" and "OPENAI_API_KEY" in status.detail:
            self._key_present = False

    def set_voice(self, mode: str | None, *, key_present: bool | None = None) -> None:
        """The voice the worker uses (``realtime``/``offline``) and whether a key is set."""
        self._voice_mode = mode
        if key_present is not None:
            self._key_present = key_present

    def session_event(
        self, room: str, role: str, kind: str, payload: dict[str, Any], at: float
    ) -> None:
        """One worker session event (see ``agents.multi_agent_worker.SessionEventSink``)."""
        sessions = self._sessions.get(room)
        if sessions is None:
            sessions = self._sessions[room] = _RoomSessions()
            while len(self._sessions) > _SESSION_ROOMS:
                del self._sessions[next(iter(self._sessions))]
        if kind == "session_started":
            info = sessions.role(role)
            info.started_at, info.identity = at, str(payload.get("identity", ""))
            voice = payload.get("voice")
            if isinstance(voice, dict) and voice.get("mode"):
                info.voice_mode = str(voice["mode"])
                self._voice_mode = info.voice_mode
        elif kind == "session_failed":
            error = _one_line(payload.get("error", "unknown error"))
            sessions.role(role).failed = error
            if "OPENAI_API_KEY" in error:
                self._key_present = False
        elif kind == "error":
            self._on_session_error(sessions, role, payload, at)
        elif kind == "session_closed" and payload.get("error"):
            sessions.role(role).closed = _one_line(payload["error"])
        elif kind in ("turn", "metrics"):
            sessions.turns += kind == "turn"
            if kind == "turn" or payload.get("type") == "realtime":
                self._realtime_worked_at = at
        elif kind == "conversation_ended":
            sessions.ended = str(payload.get("reason", ""))

    def _on_session_error(
        self, sessions: _RoomSessions, role: str, payload: dict[str, Any], at: float
    ) -> None:
        error = _one_line(payload.get("error", "unknown error"))
        recoverable = bool(payload.get("recoverable", False))
        info = sessions.role(role)
        info.error, info.error_recoverable, info.error_at = error, recoverable, at
        if any(marker in error.lower() for marker in _KEY_REJECTED_MARKERS):
            self._key_rejected, self._key_rejected_at = error, at
        if "realtime" in str(payload.get("source", "")).lower() or "realtime" in error.lower():
            sessions.realtime_error = error
            sessions.realtime_recoverable = recoverable
            sessions.realtime_error_at = at

    def set_room(
        self, name: str, created_at: datetime | None, *, now: float, wall_now: datetime
    ) -> None:
        """The observed room's creation time (wall clock), mapped onto the monotonic clock."""
        self._room_info_for = name
        self._room_created_at = (
            None if created_at is None else now - max(0.0, (wall_now - created_at).total_seconds())
        )

    def set_dispatches(self, room: str, dispatches: Iterable[DispatchLike], at: float) -> None:
        """The room's dispatches as just listed (``ControlPlane.list_dispatches``)."""
        first_poll = self._dispatch_room != room
        previous = {} if first_poll else self._dispatches
        created = self._room_created_at if self._room_info_for == room else None
        current: dict[str, _Dispatch] = {}
        for item in dispatches:
            known = previous.get(item.dispatch_id)
            if known is not None:
                since = known.since
            elif first_poll and created is not None:
                # Dispatches found on the first look came with the room (CreateRoom agents).
                since = min(created, at)
            else:
                since = at
            current[item.dispatch_id] = _Dispatch(
                item.dispatch_id, item.agent_name, item.num_jobs, since
            )
        self._dispatch_room, self._dispatches = room, current

    def log_error(self, message: str, at: float) -> None:
        """One ERROR (or worse) record of the worker log; thread-safe through the GIL."""
        self._log_errors += 1
        self._log_last, self._log_last_at = _one_line(message), at

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, now: float) -> list[Check]:
        """Every applicable check for the inputs so far, at monotonic time ``now``."""
        room = self.state.room
        sessions = self._sessions.get(room) if room else None
        heard = self._heard if self._heard_room == room else {}
        dispatches = list(self._dispatches.values()) if self._dispatch_room == room else []
        context = _Context(self, now, room, sessions, heard, dispatches)
        checks = [*context.server(), *context.worker(), *context.dispatch(), *context.openai()]
        checks += [context.session(role) for role in EXPECTED_ROLES]
        checks.append(context.observer())
        checks += [context.presence(role) for role in EXPECTED_ROLES]
        checks.append(context.unmatched())
        checks += [context.audio(role) for role in EXPECTED_ROLES]
        checks += [context.one_sided(), context.overlap()]
        if self.in_process_worker:
            checks.append(context.worker_log())
        return checks


class _Context:
    """One evaluation: the engine's inputs at ``now``, and one method per group of checks."""

    def __init__(
        self,
        engine: Diagnostics,
        now: float,
        room: str,
        sessions: _RoomSessions | None,
        heard: dict[str, _Heard],
        dispatches: list[_Dispatch],
    ) -> None:
        self.e = engine
        self.t = engine.thresholds
        self.now = now
        self.room = room
        self.sessions = sessions
        self.heard = heard
        self.dispatches = dispatches
        self.state = engine.state

    # -- helpers

    def _agents_joined(self) -> bool:
        return any(view.is_agent or view.kind == "agent" for view in self.state.participants())

    def _observing(self) -> bool:
        return self.state.observer_state in ("connected", "reconnected")

    def _expected(self) -> list[_Dispatch]:
        return [d for d in self.dispatches if d.agent_name == self._serving_name()]

    def _serving_name(self) -> str:
        worker = self.e._worker
        if worker is not None and worker.agent_name:
            return worker.agent_name
        return self.e.expected_agent_name

    def _job_unanswered_for(self) -> float | None:
        """Seconds the expected dispatch has gone without a job, None once answered/unknown."""
        expected = self._expected()
        if not expected or self._agents_joined() or any(d.num_jobs for d in expected):
            return None
        return max(0.0, self.now - min(d.since for d in expected))

    def _lost_job(self) -> str | None:
        """The finding for a lost job of the room when none of its jobs runs any more."""
        if running_job(self.state.jobs) is not None:
            return None
        lost = [job for job in self.state.jobs if job.status == "lost"]
        return lost_job_finding(lost[-1], self.state.process_of(lost[-1])) if lost else None

    # -- server, worker, dispatch

    def server(self) -> list[Check]:
        state, detail = self.e._server_state, self.e._server_detail
        reach_title, cred_title = "LiveKit server reachable", "LiveKit credentials accepted"
        if state == "unknown":
            return [
                Check("server.reachable", reach_title, "pending", "not contacted yet"),
                Check("server.credentials", cred_title, "pending", "not contacted yet"),
            ]
        if state == "unreachable":
            return [
                Check(
                    "server.reachable",
                    reach_title,
                    "fail",
                    detail,
                    "start livekit-server or fix LIVEKIT_URL",
                ),
                Check(
                    "server.credentials", cred_title, "pending", "unknown until the server answers"
                ),
            ]
        reachable = Check("server.reachable", reach_title, "ok", "the server answers")
        if state == "credentials":
            return [
                reachable,
                Check(
                    "server.credentials",
                    cred_title,
                    "fail",
                    detail,
                    "fix LIVEKIT_API_KEY/LIVEKIT_API_SECRET (.env or flags)",
                ),
            ]
        if state == "error":
            return [
                reachable,
                Check("server.credentials", cred_title, "warn", detail, "see the server log"),
            ]
        return [reachable, Check("server.credentials", cred_title, "ok", "API calls accepted")]

    def worker(self) -> list[Check]:
        title = "Agent worker registered"
        name = self._serving_name()
        if not self.e.in_process_worker:
            unanswered = self._job_unanswered_for()
            if self._agents_joined() or any(d.num_jobs for d in self._expected()):
                check = Check(
                    "worker.registered", title, "ok", f"a worker for {name!r} took this room's job"
                )
            elif unanswered is not None and unanswered > self.t.dispatch_job_s:
                check = Check(
                    "worker.registered",
                    title,
                    "fail",
                    f"no worker for {name!r} answered the dispatch within {unanswered:.0f} s",
                    "start the worker (python agents/multi_agent_worker.py dev), then "
                    "re-dispatch (key d in the dashboard) or create a new room",
                )
            else:
                check = Check(
                    "worker.registered",
                    title,
                    "pending",
                    "inferred from the room's dispatch; waiting",
                )
            return [check]
        worker = self.e._worker
        started = self.e._worker_since
        since = 0.0 if started is None else self.now - started
        if worker is None or worker.state == "off":
            registered = Check("worker.registered", title, "pending", "worker not started yet")
        elif worker.state == "starting":
            slow = since > self.t.worker_start_s
            registered = Check(
                "worker.registered",
                title,
                "warn" if slow else "pending",
                f"registering with the server for {since:.0f} s",
                "check LIVEKIT_URL and the worker log" if slow else "",
            )
        elif worker.state == "registered":
            registered = Check(
                "worker.registered",
                title,
                "ok",
                f"registered as {worker.worker_id} for {worker.agent_name!r}",
            )
        elif worker.state == "reconnecting":
            registered = Check(
                "worker.registered",
                title,
                "warn",
                f"lost the server {since:.0f} s ago; reconnecting ({_one_line(worker.detail)})",
                "check that livekit-server is running; the worker registers again by itself",
            )
        elif worker.state == "failed":
            registered = Check(
                "worker.registered",
                title,
                "fail",
                f"worker failed: {_one_line(worker.detail)}",
                "fix the cause above and restart the dashboard",
            )
        else:
            registered = Check(
                "worker.registered", title, "fail", "the worker stopped", "restart the dashboard"
            )
        return [registered, self._registered_before_room()]

    def _registered_before_room(self) -> Check:
        title = "Worker registered before the room"
        created = self.e._room_created_at if self.e._room_info_for == self.room else None
        registered = self.e._worker_registered_at
        if self.room and self._agents_joined():
            return Check("worker.before_room", title, "ok", "the worker took this room's job")
        if not self.room or created is None:
            return Check("worker.before_room", title, "pending", "room creation time unknown")
        if registered is None:
            return Check("worker.before_room", title, "pending", "worker not registered")
        if registered <= created:
            return Check("worker.before_room", title, "ok", "the worker was ready for the room")
        expected = self._expected()
        if any(d.num_jobs for d in expected):
            return Check("worker.before_room", title, "ok", "a worker took this room's job")
        if self.e._dispatch_room == self.room:
            if not expected:
                return Check(
                    "worker.before_room",
                    title,
                    "pending",
                    f"no dispatch for {self._serving_name()!r}",
                )
            if any(d.since > registered for d in expected):
                return Check(
                    "worker.before_room",
                    title,
                    "pending",
                    "dispatched again after the worker registered; waiting for the job",
                )
        # livekit-server never hands a dispatch made while no worker served its agent name to a
        # worker that registers later (tests/test_faults_e2e.py): only a new dispatch helps.
        return Check(
            "worker.before_room",
            title,
            "fail",
            f"the worker registered {registered - created:.0f} s after room {self.room} was "
            "created, so its dispatch was never delivered",
            "press d to re-dispatch the room, or create a new one (dispatch-tui create-room)",
        )

    def dispatch(self) -> list[Check]:
        name = self._serving_name()
        job_title, name_title = "Dispatch accepted", "Dispatch agent name"
        if not self.room:
            return [
                Check("dispatch.job", job_title, "pending", "no room observed"),
                Check("dispatch.agent_name", name_title, "pending", "no room observed"),
            ]
        if self.e._dispatch_room != self.room:
            return [
                Check("dispatch.job", job_title, "pending", "dispatches not listed yet"),
                Check("dispatch.agent_name", name_title, "pending", "dispatches not listed yet"),
            ]
        others = sorted({d.agent_name for d in self.dispatches if d.agent_name != name})
        if others:
            listed = ", ".join(repr(other) for other in others)
            name_check = Check(
                "dispatch.agent_name",
                name_title,
                "fail",
                f"room dispatches to {listed} but the worker serves {name!r}",
                f"create the room with agent name {name!r} (or set the worker's AGENT_NAME)",
            )
        elif self.dispatches:
            name_check = Check(
                "dispatch.agent_name",
                name_title,
                "ok",
                f"dispatched to {name!r}, the worker's agent name",
            )
        else:
            name_check = Check("dispatch.agent_name", name_title, "pending", "no dispatch yet")
        expected = self._expected()
        if not self.dispatches:
            job = Check(
                "dispatch.job",
                job_title,
                "warn",
                "the room has no agent dispatch",
                "press d to dispatch the agents",
            )
        elif not expected:
            job = Check(
                "dispatch.job",
                job_title,
                "fail",
                f"no dispatch for {name!r}: no worker will take this room",
                "press d to dispatch the right agent",
            )
        elif (lost := self._lost_job()) is not None:
            job = Check("dispatch.job", job_title, "fail", lost, "press d to re-dispatch")
        elif self._agents_joined() or any(d.num_jobs for d in expected):
            jobs = sum(d.num_jobs for d in expected)
            how = f"{jobs} job(s) listed" if jobs else "agents joined"
            if (running := running_job(self.state.jobs)) is not None:
                pid = self.state.process_of(running)
                how += f"; worker {running.worker_id}" + (f", pid {pid}" if pid else "")
            job = Check("dispatch.job", job_title, "ok", f"job accepted ({how})")
        else:
            waited = self._job_unanswered_for() or 0.0
            if waited > self.t.dispatch_job_s:
                job = Check(
                    "dispatch.job",
                    job_title,
                    "fail",
                    f"dispatch to {name!r} created {waited:.0f} s ago but no job was accepted "
                    "(no agent joined)",
                    "start the worker and register it before creating the room, then press d",
                )
            else:
                job = Check(
                    "dispatch.job",
                    job_title,
                    "pending",
                    f"waiting for a worker to accept ({waited:.1f} s)",
                )
        return [job, name_check]

    # -- openai

    def openai(self) -> list[Check]:
        mode = self.e._voice_mode
        key_title, rt_title = "OpenAI API key", "Realtime connection"
        if mode is None:
            return [
                Check("openai.key", key_title, "pending", "voice not known yet"),
                Check("openai.realtime", rt_title, "pending", "voice not known yet"),
            ]
        if mode != "realtime":
            return [
                Check("openai.key", key_title, "ok", f"{mode} voice: no OpenAI key needed"),
                Check("openai.realtime", rt_title, "ok", f"{mode} voice: not used"),
            ]
        rejected = self.e._key_rejected
        worked = self.e._realtime_worked_at
        if self.e._key_present is False:
            key = Check(
                "openai.key",
                key_title,
                "fail",
                "OPENAI_API_KEY is not set",
                "export OPENAI_API_KEY, or use --voice offline",
            )
        elif rejected and (worked is None or worked < (self.e._key_rejected_at or 0.0)):
            key = Check(
                "openai.key",
                key_title,
                "fail",
                f"OpenAI rejected the key: {rejected}",
                "set a valid OPENAI_API_KEY and restart the worker",
            )
        else:
            how = "used by a realtime session" if worked is not None else "set"
            key = Check("openai.key", key_title, "ok", how)
        sessions = self.sessions
        if sessions is None or not sessions.realtime_error:
            realtime = Check(
                "openai.realtime",
                rt_title,
                "ok",
                "no realtime errors" if sessions else "no session in this room yet",
            )
        elif not sessions.realtime_recoverable:
            realtime = Check(
                "openai.realtime",
                rt_title,
                "fail",
                f"realtime connection failed: {sessions.realtime_error}",
                "check the key, OPENAI_BASE_URL and network access to OpenAI",
            )
        else:
            realtime = Check(
                "openai.realtime",
                rt_title,
                "warn",
                f"retrying: {sessions.realtime_error}",
                "watch the worker log",
            )
        return [key, realtime]

    # -- sessions and presence

    def session(self, role: AgentRole) -> Check:
        label = ROLE_LABELS[role]
        check_id, title = f"session.{role}", f"{label}'s session started"
        info = self.sessions.roles.get(role) if self.sessions is not None else None
        if info is not None:
            if info.failed:
                return Check(
                    check_id,
                    title,
                    "fail",
                    f"did not start: {info.failed}",
                    "fix the error above (worker log has details), then press d",
                )
            if info.closed:
                return Check(
                    check_id,
                    title,
                    "fail",
                    f"closed with an error: {info.closed}",
                    "see the worker log; press d to dispatch again",
                )
            if info.error and not info.error_recoverable:
                return Check(
                    check_id, title, "fail", f"session error: {info.error}", "see the worker log"
                )
            if info.started_at is not None:
                return Check(check_id, title, "ok", f"started as {info.identity!r}")
        view = self.state.for_role(role)
        if view is not None and view.connected:
            state = view.agent_state
            if state in ("listening", "thinking", "speaking"):
                return Check(check_id, title, "ok", f"running (agent state {state})")
            waited = self.now - view.joined_at
            if waited > self.t.agent_join_s:
                return Check(
                    check_id,
                    title,
                    "warn",
                    f"{view.identity} joined {waited:.0f} s ago but its agent state is "
                    f"{state or 'not set'}",
                    "check that AgentSession.start() completed",
                )
        return Check(check_id, title, "pending", "no session reported yet")

    def observer(self) -> Check:
        title = "Observer in the room"
        if not self.room:
            return Check("observer", title, "pending", "no room observed")
        state = self.state.observer_state
        detail = _one_line(self.state.observer_detail)
        if state in ("connected", "reconnected"):
            return Check("observer", title, "ok", f"observing {self.room}")
        if state == "reconnecting":
            return Check("observer", title, "warn", "reconnecting to the server")
        if state in ("failed", "disconnected"):
            return Check(
                "observer",
                title,
                "fail",
                detail or f"observer {state}",
                "check the server; select the room again",
            )
        return Check("observer", title, "pending", "joining")

    def presence(self, role: AgentRole) -> Check:
        label = ROLE_LABELS[role]
        check_id, title = f"room.{role}", f"{label} in the room"
        if not self.room or not self._observing():
            return Check(check_id, title, "pending", "observer not in a room")
        view = self.state.for_role(role)
        if view is not None and view.connected:
            return Check(check_id, title, "ok", f"{view.identity} ({view.match_reason})")
        unmatched = [v.identity for v in self.state.unmatched() if v.connected]
        hint = f"; agents matching no role: {', '.join(unmatched)}" if unmatched else ""
        if view is not None:
            return Check(
                check_id,
                title,
                "fail",
                f"{view.identity} {view.presence(self.now)}"
                + (f" ({view.leave_reason})" if view.leave_reason else "")
                + hint,
                "see the worker log; press d to dispatch again",
            )
        missing = self.state.missing_for(role, self.now) or 0.0
        # an unanswered dispatch explains the absence early, once it counts as not accepted
        unanswered = self._job_unanswered_for()
        if missing <= self.t.agent_join_s and (
            unanswered is None or unanswered <= self.t.dispatch_job_s
        ):
            return Check(check_id, title, "pending", f"waiting for {label} ({missing:.0f} s)")
        return Check(
            check_id,
            title,
            "fail",
            f"no {role} agent in the room for {missing:.0f} s" + hint,
            "check the dispatch and the worker (see the checks above)",
        )

    def unmatched(self) -> Check:
        title = "Agents match a role"
        views = [view for view in self.state.unmatched() if view.connected]
        if not views:
            return Check("room.unmatched", title, "ok", "every agent matches a role filter")
        first = views[0]
        more = f" (+{len(views) - 1} more)" if len(views) > 1 else ""
        return Check(
            "room.unmatched",
            title,
            "fail",
            f"{first.identity}: {first.match_reason}{more}",
            "accept the job with an identity containing tim/chris or set dispatch.role",
        )

    # -- audio

    def audio(self, role: AgentRole) -> Check:
        label = ROLE_LABELS[role]
        check_id, title = f"audio.{role}", f"{label}'s audio"
        view = self.state.for_role(role)
        if view is None or not view.connected or not self._observing():
            return Check(check_id, title, "pending", f"{label} not in the room")
        track = view.audio
        here = self.now - view.joined_at
        if track is None:
            if here > self.t.track_grace_s:
                return Check(
                    check_id,
                    title,
                    "fail",
                    f"{view.identity} has published no audio track for {here:.0f} s",
                    "check that both AgentSession.start() calls completed",
                )
            return Check(check_id, title, "pending", "waiting for an audio track")
        if track.subscription_error:
            return Check(
                check_id,
                title,
                "fail",
                f"could not subscribe to {track.sid}: {_one_line(track.subscription_error)}",
                "check the server's rtc ports and the observer's network",
            )
        if track.muted:
            return Check(
                check_id,
                title,
                "fail",
                f"audio track {track.sid} is muted",
                "unmute the agent's track (a muted publication sends nothing)",
            )
        if not track.subscribed:
            # No rtc event says why: a publisher that denies subscriptions
            # (set_track_subscription_permissions) leaves the track published, never subscribed.
            waited = self.now - track.updated_at
            if waited > self.t.track_grace_s:
                return Check(
                    check_id,
                    title,
                    "fail",
                    f"could not subscribe to {track.sid}: published {waited:.0f} s ago, "
                    "still not subscribed",
                    "let every participant subscribe (track subscription permissions); "
                    "check the server's rtc ports",
                )
            return Check(check_id, title, "pending", f"track {track.sid} not subscribed yet")
        return self._loudness(view, check_id, title)

    def _loudness(self, view: AgentView, check_id: str, title: str) -> Check:
        heard = self.heard.get(view.identity, _Heard())
        claim = heard.claims_speaking_since
        last_sound = view.last_sound_at
        if (
            claim is not None
            and (last_sound is None or last_sound < claim)
            and self.now - claim > self.t.silent_speaking_s
        ):
            return Check(
                check_id,
                title,
                "fail",
                f"track {_sid(view)} is published but silent while {view.identity} is speaking "
                f"({self.now - claim:.1f} s, level {_level(view)})",
                "the agent's TTS/realtime audio produces silence: check the voice back-end",
            )
        if heard.first_level_at is None:
            return Check(check_id, title, "pending", "waiting for the first level")
        if last_sound is None and self.now - heard.first_level_at > self.t.silent_track_s:
            return Check(
                check_id,
                title,
                "warn",
                f"track {_sid(view)} has been silent for {self.now - heard.first_level_at:.0f} s",
                "check that the agent speaks (session, relay and worker log)",
            )
        return Check(check_id, title, "ok", f"track {_sid(view)} subscribed, level {_level(view)}")

    # -- speaking

    def _spoke_at(self, view: AgentView) -> float | None:
        heard = self.heard.get(view.identity, _Heard())
        times = [
            t
            for t in (
                heard.first_sound_at,
                view.speaking_intervals[0][0] if view.speaking_intervals else None,
                view.speaking_since,
            )
            if t is not None
        ]
        return min(times) if times else None

    def one_sided(self) -> Check:
        title = "Both agents speak"
        tim, chris = self.state.dispatcher(), self.state.driver()
        if tim is None or chris is None or not (tim.connected and chris.connected):
            return Check("speaking.one_sided", title, "pending", "needs both agents in the room")
        spoke = {
            role: self._spoke_at(view) for role, view in (("dispatcher", tim), ("driver", chris))
        }
        if all(at is not None for at in spoke.values()):
            return Check("speaking.one_sided", title, "ok", "both agents have spoken")
        together_since = max(tim.joined_at, chris.joined_at)
        if all(at is None for at in spoke.values()):
            waited = self.now - together_since
            if waited > self.t.one_sided_s:
                return Check(
                    "speaking.one_sided",
                    title,
                    "warn",
                    f"neither agent has spoken in {waited:.0f} s",
                    "check the sessions, the relay and the worker log",
                )
            return Check("speaking.one_sided", title, "pending", "nobody has spoken yet")
        speaker: AgentRole = "dispatcher" if spoke["dispatcher"] is not None else "driver"
        silent: AgentRole = "driver" if speaker == "dispatcher" else "dispatcher"
        first = max(spoke[speaker] or 0.0, together_since)
        waited = self.now - first
        if waited > self.t.one_sided_s:
            return Check(
                "speaking.one_sided",
                title,
                "fail",
                f"only {ROLE_LABELS[speaker]} is speaking: {ROLE_LABELS[silent]} has said "
                f"nothing for {waited:.0f} s",
                f"check {ROLE_LABELS[silent]}'s session start, audio track and the worker log",
            )
        return Check(
            "speaking.one_sided",
            title,
            "pending",
            f"waiting for {ROLE_LABELS[silent]} to answer ({waited:.0f} s)",
        )

    def overlap(self) -> Check:
        title = "One speaker at a time"
        tim, chris = self.state.dispatcher(), self.state.driver()
        if tim is None or chris is None:
            return Check("speaking.overlap", title, "pending", "needs both agents")
        heard_tim = self.heard.get(tim.identity, _Heard())
        heard_chris = self.heard.get(chris.identity, _Heard())
        sound = overlap_seconds(heard_tim.intervals(), heard_chris.intervals())
        now_both = 0.0
        if tim.speaking and chris.speaking and tim.speaking_since and chris.speaking_since:
            now_both = self.now - max(tim.speaking_since, chris.speaking_since)
        overlap = max(sound, self.state.speaking_overlap_s() + now_both)
        if overlap >= self.t.overlap_s:
            return Check(
                "speaking.overlap",
                title,
                "fail",
                f"Tim and Chris spoke at the same time for {overlap:.1f} s",
                "one session is not waiting for the other: check the turn relay",
            )
        return Check(
            "speaking.overlap",
            title,
            "ok",
            f"no overlap ({overlap:.1f} s)" if overlap else "no overlap",
        )

    # -- log

    def worker_log(self) -> Check:
        title = "Worker log free of errors"
        count, last, at = self.e._log_errors, self.e._log_last, self.e._log_last_at
        if count == 0 or at is None:
            return Check("worker.log", title, "ok", "no errors logged")
        age = self.now - at
        status: Status = "fail" if age <= self.t.log_recent_s else "warn"
        return Check(
            "worker.log",
            title,
            status,
            f"{count} error(s); last {age:.0f} s ago: {last}",
            "read the log pane (press l for the level, / to search)",
        )


def _sid(view: AgentView) -> str:
    track = view.audio
    return track.sid if track is not None else "?"


def _level(view: AgentView) -> str:
    return "unknown" if view.level_dbfs is None else f"{view.level_dbfs:.0f} dBFS"


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def worst(checks: Sequence[Check]) -> Status:
    """The most severe status (``ok`` for no checks)."""
    return max((check.status for check in checks), key=STATUS_ORDER.__getitem__, default="ok")


def summary(checks: Sequence[Check]) -> str:
    """One line for the header: ``checks: 2 fail (dispatch.job, room.driver)`` or ``all ok``."""
    state = worst(checks)
    if state == "ok":
        return f"checks: all {len(checks)} ok"
    bad = [check.id for check in checks if check.status == state]
    shown = ", ".join(bad[:3]) + (", …" if len(bad) > 3 else "")
    return f"checks: {len(bad)} {state} ({shown})"


class LogErrorCounter(logging.Handler):
    """Counts ERROR records of any thread into a :class:`Diagnostics`, redacted, on one line.

    Attach it to the root logger next to the log capture. It only increments counters under a
    lock (no Textual, no message per record); the engine reads them on evaluation.
    """

    def __init__(
        self,
        diagnostics: Diagnostics,
        clock: Callable[[], float],
        secrets: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        super().__init__(logging.ERROR)
        self._diagnostics = diagnostics
        self._clock = clock
        self._secrets = secrets
        """A callable returning the secrets to redact (e.g. the capture formatter's)."""
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            secrets = list(self._secrets()) if self._secrets is not None else []
            text = redact_tokens(redact(f"{record.name}: {record.getMessage()}", secrets))
            with self._lock:
                self._diagnostics.log_error(text, self._clock())
        except Exception:  # a broken record must not break the thread that logged it
            self.handleError(record)
