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

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from agents.constants import AGENT_NAME, AGENT_STATE_ATTRIBUTE
from tui.core.audio_level import SOUND_THRESHOLD_DBFS
from tui.core.diagnostics import audio, infra, room, turn_taking, voice
from tui.core.diagnostics.check import Check, Thresholds, one_line
from tui.core.diagnostics.facts import DispatchSeen, Facts, Heard, RoomSessions, ServerState
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    ParticipantJoined,
    SessionEvent,
    TranscriptSegment,
    WatchEvent,
)
from tui.core.infra_events import (
    INFRA_EVENT_TYPES,
    ControlPlaneAnswered,
    DispatchesListed,
    InfraEvent,
    RoomCreated,
    ServerStatusChanged,
    VoiceConfigured,
    WorkerLogErrors,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.live_turns import LiveTurns
from tui.core.state import RoomState

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

    ``state`` is the room model it reads (the :class:`~tui.core.room_model.RoomModel` applies
    each event to the state first, then to :meth:`apply` for the engine's own bookkeeping);
    ``turns`` the speaking and turn-taking heard in the audio, which the model feeds likewise.
    ``in_process_worker`` says whether worker status and the worker log reach the engine;
    without them (``doctor``, ``--no-worker``) those checks are inferred from the room or left
    out.
    """

    def __init__(
        self,
        state: RoomState,
        *,
        turns: LiveTurns | None = None,
        expected_agent_name: str = AGENT_NAME,
        in_process_worker: bool = True,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.state = state
        self.turns = turns if turns is not None else LiveTurns()
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

    def apply(self, event: WatchEvent) -> None:
        """Note one event: the engine's only input (after the state has applied it)."""
        if isinstance(event, INFRA_EVENT_TYPES):
            self._apply_infra(event)  # type: ignore[arg-type]
            return
        if isinstance(event, SessionEvent):
            self._session_event(event.room, event.role, event.kind, event.payload, event.at)
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

    def _apply_infra(self, event: InfraEvent) -> None:
        if isinstance(event, ServerStatusChanged):
            if event.status.state == "ready":
                self._server_ok()
            elif event.status.state == "failed":
                self._server_failed(event.status.detail)
        elif isinstance(event, ControlPlaneAnswered):
            if event.ok:
                self._server_ok()
            elif event.kind != "not_found":  # the room went away: not a server problem
                self._server_failed(event.detail, event.kind)
        elif isinstance(event, WorkerStatusChanged):
            self._worker_status(event.status, event.at)
        elif isinstance(event, VoiceConfigured):
            self._voice_mode = event.mode
            if event.key_present is not None:
                self._key_present = event.key_present
        elif isinstance(event, RoomCreated):
            self._set_room(event.room, event.created_at, now=event.at, wall_now=event.wall_at)
        elif isinstance(event, DispatchesListed):
            self._set_dispatches(event.room, event.dispatches, event.at)
        elif isinstance(event, WorkerLogErrors):
            self._log_errors = event.count
            self._log_last, self._log_last_at = event.last, event.last_at

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

    def _server_ok(self) -> None:
        self._server_state, self._server_detail = "ok", ""

    def _server_failed(self, message: str, kind: str = "server") -> None:
        state: Literal["unreachable", "credentials", "error"]
        state = kind if kind in ("unreachable", "credentials") else "error"  # type: ignore[assignment]
        self._server_state, self._server_detail = state, one_line(message)

    def _worker_status(self, status: WorkerStatus, at: float) -> None:
        """The in-process worker's status (``tui.core.worker_runner.WorkerStatus``)."""
        if self._worker is None or self._worker.state != status.state:
            self._worker_since = at
        self._worker = status
        if status.state == "registered":
            self._worker_registered_at = at
        if status.state == "failed" and "OPENAI_API_KEY" in status.detail:
            self._key_present = False

    def _session_event(
        self, room: str, role: str, kind: str, payload: dict[str, Any], at: float
    ) -> None:
        # One agent session's event as read from the room (agents.session_events).
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
            if kind == "turn":
                info = sessions.role(role)
                info.turns += 1
                latency = payload.get("e2e_latency")
                info.reply_s = float(latency) if isinstance(latency, int | float) else None
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
            sessions.realtime_error_role, sessions.realtime_error_turns = role, info.turns

    def _set_room(
        self, name: str, created_at: datetime | None, *, now: float, wall_now: datetime
    ) -> None:
        # The observed room's creation time (wall clock), mapped onto the monotonic clock.
        self._room_info_for = name
        self._room_created_at = (
            None if created_at is None else now - max(0.0, (wall_now - created_at).total_seconds())
        )

    def _set_dispatches(self, room: str, dispatches: Iterable[DispatchLike], at: float) -> None:
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

    # ------------------------------------------------------------------ evaluation

    def facts(self, now: float) -> Facts:
        """A read-only snapshot of the inputs for the observed room at monotonic time ``now``."""
        room = self.state.room
        return Facts(
            now=now,
            t=self.thresholds,
            state=self.state,
            turns=self.turns,
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
        roles = self.state.expected_roles()
        checks += [voice.session(facts, role) for role in roles]
        checks.append(voice.reply(facts))
        checks.append(room.observer(facts))
        checks += [room.presence(facts, role) for role in roles]
        checks.append(room.unmatched(facts))
        checks += [audio.audio(facts, role) for role in roles]
        checks.append(audio.one_sided(facts))
        checks += turn_taking.live_checks(facts.turns, now, self.thresholds)
        if self.in_process_worker:
            checks.append(infra.worker_log(facts))
        return checks
