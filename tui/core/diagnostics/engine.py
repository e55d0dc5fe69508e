"""Live troubleshooting: every failure of the worker guide's troubleshooting list, as checks.

:class:`Diagnostics` is plain Python (no Textual, no IO, no clock of its own). It is fed the same
inputs as the dashboard: domain events (through the shared :class:`~tui.core.state.RoomState`), the
server and control-plane status, the in-process worker's status, the worker's session events,
worker-log errors, and the observed room's dispatches and creation time. ``evaluate(now)`` turns
what it knows into :class:`Check` values, each ``ok``/``warn``/``fail``/``pending`` with a
one-line finding and a one-line fix. The checks themselves live in one module per group
(``infra``, ``voice``, ``room``, ``audio``) and read a frozen :class:`~.facts.Facts`
snapshot. ``evaluate`` does not change anything, so the same inputs and ``now`` give the same
checks: the panel, the header and ``dispatch-tui doctor`` share it.

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
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from agents.constants import AGENT_NAME, AGENT_STATE_ATTRIBUTE
from tui.core.agent_view import EXPECTED_ROLES
from tui.core.audio_level import SOUND_THRESHOLD_DBFS
from tui.core.diagnostics import audio, infra, room, voice
from tui.core.diagnostics.check import Check, Thresholds, one_line
from tui.core.diagnostics.facts import DispatchSeen, Facts, Heard, RoomSessions, ServerState
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    DomainEvent,
    ParticipantJoined,
    SessionEvent,
    TranscriptSegment,
)
from tui.core.redaction import redact, redact_tokens
from tui.core.state import RoomState

if TYPE_CHECKING:
    from tui.core.control_plane import ControlPlaneError
    from tui.core.worker_runner import WorkerStatus

_SOUND_GAP_S: Final = 0.35
"""Levels arrive every 0.1 s: a longer gap between audible levels ends a sound interval."""
_SESSION_ROOMS: Final = 16
"""Rooms whose session events are kept (the worker may serve rooms nobody observes)."""
_KEY_REJECTED_MARKERS: Final = ("401", "invalid_api_key", "api key was rejected", "incorrect api")


class DispatchLike(Protocol):
    """What the engine reads of a dispatch (``tui.core.control_plane.DispatchSummary``)."""

    @property
    def dispatch_id(self) -> str: ...
    @property
    def agent_name(self) -> str: ...
    @property
    def num_jobs(self) -> int: ...


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
        self._server_state: ServerState = "unknown"
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
        self._dispatches: dict[str, DispatchSeen] = {}
        self._heard_room = ""
        self._heard: dict[str, Heard] = {}
        self._sessions: dict[str, RoomSessions] = {}
        # worker log (may be fed from any thread through LogErrorCounter)
        self._log_errors = 0
        self._log_last = ""
        self._log_last_at: float | None = None

    # ------------------------------------------------------------------ inputs

    def apply(self, event: DomainEvent) -> None:
        """Note a domain event (and apply it to the state when the engine owns it)."""
        if self._owns_state:
            self.state.apply(event)
        if isinstance(event, SessionEvent):
            self.session_event(event.room, event.role, event.kind, event.payload, event.at)
            return
        if event.room != self.state.room:
            return
        if self._heard_room != event.room:
            self._heard_room, self._heard = event.room, {}
        if isinstance(event, AudioLevel):
            self._on_level(event)
        elif isinstance(event, AttributesChanged | ParticipantJoined):
            heard = self._heard.setdefault(event.identity, Heard())
            speaking = dict(event.attributes).get(AGENT_STATE_ATTRIBUTE) == "speaking"
            if speaking and heard.claims_speaking_since is None:
                heard.claims_speaking_since = event.at
            elif not speaking:
                heard.claims_speaking_since = None
        elif isinstance(event, TranscriptSegment):
            self._heard.setdefault(event.identity, Heard()).last_transcript_at = event.at

    def _on_level(self, event: AudioLevel) -> None:
        heard = self._heard.setdefault(event.identity, Heard())
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
        self._server_state, self._server_detail = state, one_line(message)

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
        """One worker session event (see ``agents.session_events.JobEvents``)."""
        sessions = self._sessions.get(room)
        if sessions is None:
            sessions = self._sessions[room] = RoomSessions()
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
            error = one_line(payload.get("error", "unknown error"))
            sessions.role(role).failed = error
            if "OPENAI_API_KEY" in error:
                self._key_present = False
        elif kind == "error":
            self._on_session_error(sessions, role, payload, at)
        elif kind == "session_closed" and payload.get("error"):
            sessions.role(role).closed = one_line(payload["error"])
        elif kind in ("turn", "metrics"):
            sessions.turns += kind == "turn"
            if kind == "turn" or payload.get("type") == "realtime":
                self._realtime_worked_at = at
        elif kind == "conversation_ended":
            sessions.ended = str(payload.get("reason", ""))

    def _on_session_error(
        self, sessions: RoomSessions, role: str, payload: dict[str, Any], at: float
    ) -> None:
        error = one_line(payload.get("error", "unknown error"))
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
        current: dict[str, DispatchSeen] = {}
        for item in dispatches:
            known = previous.get(item.dispatch_id)
            if known is not None:
                since = known.since
            elif first_poll and created is not None:
                # Dispatches found on the first look came with the room (CreateRoom agents).
                since = min(created, at)
            else:
                since = at
            current[item.dispatch_id] = DispatchSeen(
                item.dispatch_id, item.agent_name, item.num_jobs, since
            )
        self._dispatch_room, self._dispatches = room, current

    def log_error(self, message: str, at: float) -> None:
        """One ERROR (or worse) record of the worker log; thread-safe through the GIL."""
        self._log_errors += 1
        self._log_last, self._log_last_at = one_line(message), at

    # ------------------------------------------------------------------ evaluation

    def facts(self, now: float) -> Facts:
        """A read-only snapshot of the inputs for the observed room at monotonic time ``now``."""
        room = self.state.room
        return Facts(
            now=now,
            t=self.thresholds,
            state=self.state,
            room=room,
            in_process_worker=self.in_process_worker,
            expected_agent_name=self.expected_agent_name,
            server_state=self._server_state,
            server_detail=self._server_detail,
            worker=self._worker,
            worker_since=self._worker_since,
            worker_registered_at=self._worker_registered_at,
            voice_mode=self._voice_mode,
            key_present=self._key_present,
            key_rejected=self._key_rejected,
            key_rejected_at=self._key_rejected_at,
            realtime_worked_at=self._realtime_worked_at,
            room_info_for=self._room_info_for,
            room_created_at=self._room_created_at,
            dispatch_room=self._dispatch_room,
            dispatches=tuple(self._dispatches.values()) if self._dispatch_room == room else (),
            sessions=self._sessions.get(room) if room else None,
            heard=dict(self._heard) if self._heard_room == room else {},
            log_errors=self._log_errors,
            log_last=self._log_last,
            log_last_at=self._log_last_at,
        )

    def evaluate(self, now: float) -> list[Check]:
        """Every applicable check for the inputs so far, at monotonic time ``now``."""
        facts = self.facts(now)
        checks = [
            *infra.server(facts),
            *infra.worker(facts),
            *infra.dispatch(facts),
            *voice.openai(facts),
        ]
        checks += [voice.session(facts, role) for role in EXPECTED_ROLES]
        checks.append(room.observer(facts))
        checks += [room.presence(facts, role) for role in EXPECTED_ROLES]
        checks.append(room.unmatched(facts))
        checks += [audio.audio(facts, role) for role in EXPECTED_ROLES]
        checks += [audio.one_sided(facts), audio.overlap(facts)]
        if self.in_process_worker:
            checks.append(infra.worker_log(facts))
        return checks


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
