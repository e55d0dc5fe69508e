"""The pure state model of the observed room: domain events in, read-only views out.

No IO, no threads, no clocks of its own: every time comes from the events (``event.at``, a
:func:`time.monotonic` value) or from the ``now`` a caller passes to a duration helper, so the
model is deterministic and trivially testable. The app applies events on its own thread and
widgets read the views; nothing here is thread-safe and nothing needs to be.

Roles follow the worker guide's troubleshooting rule, made explicit: the ``dispatch.role``
attribute wins; otherwise an agent whose identity or name contains ``dispatcher``/``tim`` is the
dispatcher and ``driver``/``chris`` the driver (case-insensitive); any other agent is
``unmatched`` and keeps a human-readable reason, which is exactly what the guide's
"agent_abc123" symptom needs on screen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from agents.constants import (
    AGENT_STATE_ATTRIBUTE,
    ROLE_ATTRIBUTE,
    WORKER_HOST_ATTRIBUTE,
    WORKER_ID_ATTRIBUTE,
    WORKER_PID_ATTRIBUTE,
)
from tui.core.audio_level import SOUND_THRESHOLD_DBFS
from tui.core.events import (
    ActiveSpeakers,
    AttributesChanged,
    AudioLevel,
    ConnectionQualityChanged,
    DomainEvent,
    JobsListed,
    ObserverState,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    RoomJob,
    TrackUpdate,
    TranscriptSegment,
)

Role: TypeAlias = Literal["dispatcher", "driver", "unmatched", "standard"]
"""``standard`` is any non-agent participant (a human, a test client) without a role attribute."""

AgentRole: TypeAlias = Literal["dispatcher", "driver"]
EXPECTED_ROLES: Final[tuple[AgentRole, ...]] = ("dispatcher", "driver")

DISPATCHER_KEYWORDS: Final[tuple[str, ...]] = ("dispatcher", "tim")
DRIVER_KEYWORDS: Final[tuple[str, ...]] = ("driver", "chris")
_FILTERS_TEXT: Final = f"({'|'.join(DISPATCHER_KEYWORDS)}, {'|'.join(DRIVER_KEYWORDS)})"

TRANSCRIPT_CAP: Final = 200
"""Finished transcript lines kept per agent and for the whole room."""
IN_PROGRESS_CAP: Final = 8
"""Open segments kept per participant; a sender that never finalises cannot grow memory."""
SPEAKING_HISTORY: Final = 50
"""Closed speaking intervals kept per participant (enough for overlap checks on recent turns)."""
STREAMING_EVENTS: Final = (AudioLevel, TranscriptSegment)
"""Events that arrive several times a second while an agent talks (see ``prompt_version``)."""


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True, slots=True)
class Classification:
    """A participant's role and why it was given."""

    role: Role
    reason: str


def _keyword_hit(value: str, keywords: Iterable[str]) -> str | None:
    lowered = value.lower()
    return next((keyword for keyword in keywords if keyword in lowered), None)


def classify(identity: str, name: str, kind: str, attributes: Mapping[str, str]) -> Classification:
    """Decide a participant's role; see the module docstring for the rule.

    Non-agent participants are only given an agent role when they declare it with the attribute:
    a human called "Tim" joining to listen must not take the dispatcher's pane.
    """
    declared = attributes.get(ROLE_ATTRIBUTE, "").strip().lower()
    if declared in EXPECTED_ROLES:
        role: Role = "dispatcher" if declared == "dispatcher" else "driver"
        return Classification(role, f"attribute {ROLE_ATTRIBUTE}={declared!r}")
    if kind != "agent":
        return Classification("standard", f"{kind} participant (not an agent)")
    prefix = (
        f"attribute {ROLE_ATTRIBUTE}={declared!r} is neither dispatcher nor driver; "
        if declared
        else ""
    )
    # Identity before name: the identity is what the worker controls and logs.
    for field_name, value in (("identity", identity), ("name", name)):
        if not value:
            continue
        for role_name, keywords in (
            ("dispatcher", DISPATCHER_KEYWORDS),
            ("driver", DRIVER_KEYWORDS),
        ):
            hit = _keyword_hit(value, keywords)
            if hit is not None:
                keyword_role: Role = "dispatcher" if role_name == "dispatcher" else "driver"
                return Classification(
                    keyword_role, f"{prefix}{field_name} {value!r} contains {hit!r}"
                )
    subject = f"identity {identity!r}" + (f" and name {name!r}" if name else "")
    verb = "match" if name else "matches"
    return Classification("unmatched", f"{prefix}{subject} {verb} neither filter {_FILTERS_TEXT}")


# --------------------------------------------------------------------------- views


@dataclass(slots=True)
class TrackView:
    """One published track of a participant, as the observer sees it."""

    sid: str
    name: str = ""
    source: str = "unknown"
    kind: str = "audio"
    muted: bool = False
    published: bool = True
    subscribed: bool = False
    subscription_error: str = ""
    updated_at: float = 0.0


@dataclass(slots=True)
class TranscriptLine:
    """One transcript segment. In-progress lines are the same object updated in place.

    ``text`` is raw text from the room: render it as plain text, never as markup.
    ``final`` is False for a segment cut short (its speaker left or never finalised it).
    """

    identity: str
    segment_id: str
    text: str
    final: bool
    started_at: float
    updated_at: float
    track_id: str = ""


@dataclass(slots=True)
class Counters:
    """How much happened to one participant; cheap diagnostics for the pane."""

    joins: int = 0
    attribute_changes: int = 0
    track_changes: int = 0
    level_updates: int = 0
    transcript_updates: int = 0
    segments_final: int = 0
    speaking_turns: int = 0


@dataclass(slots=True)
class AgentView:
    """Everything known about one participant (agents and, with role ``standard``, others)."""

    identity: str
    name: str
    kind: str
    role: Role
    match_reason: str
    sid: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    connected: bool = True
    joined_at: float = 0.0
    left_at: float | None = None
    leave_reason: str = ""
    agent_state: str | None = None
    """The ``lk.agent.state`` attribute: initializing, listening, thinking, speaking."""
    speaking: bool = False
    """From the server's active speakers (only for tracks the observer subscribes to)."""
    speaking_since: float | None = None
    level_dbfs: float | None = None
    """Last metered RMS level of the received audio, None until the first measurement."""
    level_at: float | None = None
    last_sound_at: float | None = None
    """Last time the level was above :data:`tui.core.audio_level.SOUND_THRESHOLD_DBFS`."""
    quality: str = "unknown"
    tracks: dict[str, TrackView] = field(default_factory=dict)
    transcript: deque[TranscriptLine] = field(default_factory=lambda: deque(maxlen=TRANSCRIPT_CAP))
    in_progress: dict[str, TranscriptLine] = field(default_factory=dict)
    """Open segments by segment id, oldest first."""
    speaking_intervals: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=SPEAKING_HISTORY)
    )
    counters: Counters = field(default_factory=Counters)

    @property
    def is_agent(self) -> bool:
        return self.role != "standard"

    @property
    def audio(self) -> TrackView | None:
        """The audio track to show: the microphone if there is one, else any audio track."""
        audio = [track for track in self.tracks.values() if track.kind == "audio"]
        for track in audio:
            if track.source == "microphone":
                return track
        return audio[0] if audio else None

    def lines(self) -> list[TranscriptLine]:
        """Finished lines then the ones in progress, oldest first."""
        return [*self.transcript, *self.in_progress.values()]

    def absent_for(self, now: float) -> float | None:
        """Seconds since the participant left, or None while connected."""
        if self.connected or self.left_at is None:
            return None
        return max(0.0, now - self.left_at)

    def silent_for(self, now: float) -> float | None:
        """Seconds without audible sound since joining, or None before any audio track."""
        if not self.connected or self.audio is None:
            return None
        reference = self.last_sound_at if self.last_sound_at is not None else self.joined_at
        return max(0.0, now - reference)

    def presence(self, now: float) -> str:
        """A short human description: "here for 12 s" or "left 5 s ago"."""
        if self.connected:
            return f"here for {max(0.0, now - self.joined_at):.0f} s"
        absent = self.absent_for(now)
        return f"left {absent:.0f} s ago" if absent is not None else "left"

    # -- mutations used by RoomState only

    def _set_speaking(self, speaking: bool, at: float) -> bool:
        if speaking == self.speaking:
            return False
        self.speaking = speaking
        if speaking:
            self.speaking_since = at
            self.counters.speaking_turns += 1
        else:
            if self.speaking_since is not None:
                self.speaking_intervals.append((self.speaking_since, max(at, self.speaking_since)))
            self.speaking_since = None
        return True

    def _reclassify(self) -> None:
        result = classify(self.identity, self.name, self.kind, self.attributes)
        self.role, self.match_reason = result.role, result.reason


def overlap_seconds(
    first: Iterable[tuple[float, float]], second: Iterable[tuple[float, float]]
) -> float:
    """Total time during which an interval of ``first`` and one of ``second`` both run."""
    ordered_second = sorted(second)
    total = 0.0
    for start, end in first:
        for other_start, other_end in ordered_second:
            if other_start >= end:
                break
            total += max(0.0, min(end, other_end) - max(start, other_start))
    return total


# --------------------------------------------------------------------------- the room


class RoomState:
    """The observed room. Apply events with :meth:`apply`; read with the accessors.

    Events for another room (left over from before a :meth:`reset`) are counted in ``ignored``
    and change nothing. Departed agents are kept (``connected=False``) so a pane can say
    "left 5 s ago"; departed standard participants are dropped.
    """

    def __init__(self, room: str = "", *, now: float = 0.0) -> None:
        self.room = room
        self.started_at = now
        self.observer_state: ObserverState | None = None
        self.observer_detail = ""
        self.observer_at: float | None = None
        self.active_speakers: tuple[str, ...] = ()
        self.transcript: deque[TranscriptLine] = deque(maxlen=TRANSCRIPT_CAP)
        self.ignored = 0
        self.version = 0
        """Incremented on every change: a cheap "anything new?" check for renderers."""
        self.prompt_version = 0
        """Incremented on changes a viewer should see at once: everything but the audio levels
        and transcript text, which stream in several times a second while an agent talks and
        can be drawn a few times a second instead."""
        self.jobs: tuple[RoomJob, ...] = ()
        """The room's agent jobs as last listed by the server (see :class:`JobsListed`)."""
        self.jobs_at: float | None = None
        """When the jobs were last listed, None before the first listing."""
        self.worker_processes: dict[str, str] = {}
        """Worker id -> ``pid@host``, from the attributes of every agent seen in the room (a
        worker that died stays here after its agent left or was replaced)."""
        self._participants: dict[str, AgentView] = {}
        self._handlers: dict[type[Any], Callable[[Any], bool]] = {
            AudioLevel: self._on_level,  # first: by far the most frequent
            ActiveSpeakers: self._on_speakers,
            TranscriptSegment: self._on_transcript,
            AttributesChanged: self._on_attributes,
            TrackUpdate: self._on_track,
            ParticipantJoined: self._on_joined,
            ParticipantLeft: self._on_left,
            ConnectionQualityChanged: self._on_quality,
            ObserverStatus: self._on_observer,
            JobsListed: self._on_jobs,
        }

    def reset(self, room: str, *, now: float = 0.0) -> None:
        """Forget everything and start observing ``room`` (``now`` starts "missing" clocks).

        ``version`` keeps counting so a renderer comparing versions notices the switch.
        """
        self.room, self.started_at = room, now
        self.observer_state, self.observer_detail, self.observer_at = None, "", None
        self.active_speakers = ()
        self.transcript.clear()
        self.ignored = 0
        self.jobs, self.jobs_at = (), None
        self.worker_processes.clear()
        self._participants.clear()
        self.version += 1
        self.prompt_version += 1

    # -- applying

    def apply(self, event: DomainEvent) -> bool:
        """Apply one event; True if anything visible changed."""
        if event.room != self.room:
            self.ignored += 1
            return False
        changed = self._handlers[type(event)](event)
        if changed:
            self.version += 1
            if not isinstance(event, STREAMING_EVENTS):
                self.prompt_version += 1
        return changed

    def _on_level(self, event: AudioLevel) -> bool:
        view = self._participants.get(event.identity)
        if view is None or not view.connected:
            return False
        view.level_dbfs = event.rms_dbfs
        view.level_at = event.at
        if event.rms_dbfs > SOUND_THRESHOLD_DBFS:
            view.last_sound_at = event.at
        view.counters.level_updates += 1
        return True

    def _on_speakers(self, event: ActiveSpeakers) -> bool:
        speakers = set(event.identities)
        changed = self.active_speakers != event.identities
        self.active_speakers = event.identities
        for view in self._participants.values():
            changed |= view._set_speaking(view.connected and view.identity in speakers, event.at)
        return changed

    def _on_transcript(self, event: TranscriptSegment) -> bool:
        view = self._participants.get(event.identity)
        if view is None:
            # E.g. a transcript published on behalf of someone we never saw join.
            self.ignored += 1
            return False
        view.counters.transcript_updates += 1
        line = view.in_progress.get(event.segment_id)
        if line is None:
            done = _recent(view.transcript, event.segment_id)
            if done is not None:
                # The segment was already finished: a repeated final corrects it, a late or
                # reordered interim never reopens it (a final is authoritative), and text
                # arriving after its speaker left (a stream still being read) completes it.
                if not (event.final or not done.final):
                    return False
                changed = done.text != event.text or (event.final and not done.final)
                done.text, done.updated_at = event.text, event.at
                if event.final and not done.final:
                    done.final = True
                    view.counters.segments_final += 1
                return changed
            line = TranscriptLine(
                identity=event.identity,
                segment_id=event.segment_id,
                text=event.text,
                final=False,
                started_at=event.at,
                updated_at=event.at,
                track_id=event.track_id,
            )
        line.text, line.updated_at = event.text, event.at
        line.track_id = event.track_id or line.track_id
        if event.final or not view.connected:
            # A departed speaker's segment cannot stay open: nobody would ever close it.
            view.in_progress.pop(event.segment_id, None)
            if event.final:
                line.final = True
                view.counters.segments_final += 1
            self._finish(view, line)
        else:
            view.in_progress[event.segment_id] = line
            while len(view.in_progress) > IN_PROGRESS_CAP:
                oldest = next(iter(view.in_progress))
                self._finish(view, view.in_progress.pop(oldest))
        return True

    def _finish(self, view: AgentView, line: TranscriptLine) -> None:
        view.transcript.append(line)
        self.transcript.append(line)

    def _on_attributes(self, event: AttributesChanged) -> bool:
        view = self._participants.get(event.identity)
        if view is None or not view.connected:  # late news of a departed one
            self.ignored += 1
            return False
        attributes = event.attribute_map
        if attributes == view.attributes:
            return False
        view.attributes = attributes
        view.agent_state = attributes.get(AGENT_STATE_ATTRIBUTE)
        view.counters.attribute_changes += 1
        view._reclassify()
        self._note_worker(attributes)
        return True

    def _on_track(self, event: TrackUpdate) -> bool:
        view = self._participants.get(event.identity)
        if view is None or not view.connected:
            self.ignored += 1
            return False
        view.counters.track_changes += 1
        if event.status == "unpublished":
            removed = view.tracks.pop(event.sid, None)
            if removed is not None and removed.kind == "audio" and view.audio is None:
                view.level_dbfs = view.level_at = None
            return removed is not None
        track = view.tracks.get(event.sid)
        if track is None:
            track = view.tracks[event.sid] = TrackView(
                sid=event.sid, name=event.name, source=event.source, kind=event.kind
            )
        track.name = event.name or track.name
        track.muted = event.muted
        track.updated_at = event.at
        if event.status == "published":
            track.published = True
        elif event.status == "subscribed":
            track.published, track.subscribed, track.subscription_error = True, True, ""
        elif event.status == "unsubscribed":
            track.subscribed = False
        elif event.status == "subscription_failed":
            track.subscribed, track.subscription_error = False, event.error or "failed"
        return True

    def _on_joined(self, event: ParticipantJoined) -> bool:
        attributes = event.attribute_map
        self._note_worker(attributes)
        view = self._participants.get(event.identity)
        if view is not None and view.connected:
            # Seen again (e.g. the observer replayed the room after reconnecting): refresh only.
            view.name, view.kind, view.sid = event.name, event.kind, event.sid or view.sid
            view.attributes = attributes
            view.agent_state = attributes.get(AGENT_STATE_ATTRIBUTE)
            view._reclassify()
            return True
        if view is None:
            result = classify(event.identity, event.name, event.kind, attributes)
            view = AgentView(
                identity=event.identity,
                name=event.name,
                kind=event.kind,
                role=result.role,
                match_reason=result.reason,
            )
            self._participants[event.identity] = view
        else:
            # Rejoined: keep the transcript and history, start the live fields afresh.
            view.name, view.kind, view.attributes = event.name, event.kind, attributes
            view._reclassify()
            view.tracks.clear()
            view.level_dbfs = view.level_at = view.last_sound_at = None
            view.quality = "unknown"
        view.sid = event.sid
        view.attributes = attributes
        view.agent_state = attributes.get(AGENT_STATE_ATTRIBUTE)
        view.connected, view.joined_at, view.left_at, view.leave_reason = True, event.at, None, ""
        view.counters.joins += 1
        return True

    def _on_left(self, event: ParticipantLeft) -> bool:
        view = self._participants.get(event.identity)
        if view is None or not view.connected:
            return False
        view._set_speaking(False, event.at)
        for line in list(view.in_progress.values()):
            self._finish(view, line)  # cut short: kept, still marked not final
        view.in_progress.clear()
        view.connected, view.left_at, view.leave_reason = False, event.at, event.reason
        view.tracks.clear()
        if not view.is_agent:
            del self._participants[event.identity]
        return True

    def _on_quality(self, event: ConnectionQualityChanged) -> bool:
        view = self._participants.get(event.identity)
        if view is None or not view.connected or view.quality == event.quality:
            return False
        view.quality = event.quality
        return True

    def _on_observer(self, event: ObserverStatus) -> bool:
        self.observer_state, self.observer_detail, self.observer_at = (
            event.state,
            event.detail,
            event.at,
        )
        if event.state in ("disconnected", "failed"):
            # Nobody will tell us when speaking stops any more.
            for view in self._participants.values():
                view._set_speaking(False, event.at)
            self.active_speakers = ()
        return True

    def _on_jobs(self, event: JobsListed) -> bool:
        self.jobs_at = event.at
        if event.jobs == self.jobs:
            return False
        self.jobs = event.jobs
        return True

    def _note_worker(self, attributes: Mapping[str, str]) -> None:
        worker_id = attributes.get(WORKER_ID_ATTRIBUTE)
        if worker_id:
            self.worker_processes[worker_id] = _process(attributes)

    # -- reading

    def process_of(self, job: RoomJob) -> str:
        """``pid@host`` of the worker process running ``job``, or "" when not known.

        By worker id (the ``dispatch.worker.id`` attribute of the job's agent); for a worker
        that does not set it, from the job participant's own attributes.
        """
        if job.worker_id in self.worker_processes:
            return self.worker_processes[job.worker_id]
        view = self._participants.get(job.participant_identity)
        if view is not None and WORKER_ID_ATTRIBUTE not in view.attributes:
            return _process(view.attributes)
        return ""

    def get(self, identity: str) -> AgentView | None:
        return self._participants.get(identity)

    def participants(self) -> list[AgentView]:
        """Every participant known, agents and standard, in join order."""
        return list(self._participants.values())

    def agents(self) -> list[AgentView]:
        """Agents (connected or departed), in join order."""
        return [view for view in self._participants.values() if view.is_agent]

    def standard(self) -> list[AgentView]:
        """Connected non-agent participants (humans, test clients), listed apart from agents."""
        return [view for view in self._participants.values() if not view.is_agent]

    def _pick(self, role: Role) -> AgentView | None:
        # Prefer a connected one (the latest to join); else the one that left last, so the
        # pane can say "left 5 s ago" instead of vanishing.
        best: AgentView | None = None
        for view in self._participants.values():
            if view.role != role:
                continue
            if best is None or _pick_key(view) >= _pick_key(best):
                best = view
        return best

    def dispatcher(self) -> AgentView | None:
        """The dispatcher to show: connected if any, else the last one that left, else None."""
        return self._pick("dispatcher")

    def driver(self) -> AgentView | None:
        """The driver to show: connected if any, else the last one that left, else None."""
        return self._pick("driver")

    def for_role(self, role: AgentRole) -> AgentView | None:
        return self._pick(role)

    def unmatched(self) -> list[AgentView]:
        """Agents that match no role (see their ``match_reason``), connected first."""
        views = [view for view in self._participants.values() if view.role == "unmatched"]
        return sorted(views, key=lambda view: not view.connected)

    def missing_since(self, role: AgentRole) -> float | None:
        """When the room last had a connected agent with ``role`` (or observing started).

        None while such an agent is connected.
        """
        view = self._pick(role)
        if view is not None and view.connected:
            return None
        if view is not None and view.left_at is not None:
            return view.left_at
        return self.started_at

    def missing_for(self, role: AgentRole, now: float) -> float | None:
        """Seconds the role has been missing ("missing for 12 s"), None while present."""
        since = self.missing_since(role)
        return None if since is None else max(0.0, now - since)

    def missing_roles(self) -> list[AgentRole]:
        return [role for role in EXPECTED_ROLES if self.missing_since(role) is not None]

    def in_progress(self) -> list[TranscriptLine]:
        """Every open segment in the room, oldest first."""
        lines = [line for view in self._participants.values() for line in view.in_progress.values()]
        return sorted(lines, key=lambda line: line.started_at)

    def speaking_overlap_s(self) -> float:
        """Seconds the dispatcher and driver spoke at once, over their recorded intervals."""
        dispatcher, driver = self.dispatcher(), self.driver()
        if dispatcher is None or driver is None:
            return 0.0
        return overlap_seconds(dispatcher.speaking_intervals, driver.speaking_intervals)


def _process(attributes: Mapping[str, str]) -> str:
    pid = attributes.get(WORKER_PID_ATTRIBUTE, "")
    host = attributes.get(WORKER_HOST_ATTRIBUTE, "")
    return f"{pid}@{host}" if pid and host else pid


# --------------------------------------------------------------------------- jobs

JobsHealth: TypeAlias = Literal["ok", "pending", "bad"]


def lost_job_finding(job: RoomJob, process: str = "") -> str:
    """What happened to a lost job: ``job AJ_… on worker AW_… (pid P) lost: …``."""
    pid = f" (pid {process})" if process else ""
    return f"job {job.job_id} on worker {job.worker_id}{pid} lost: the worker stopped"


def lost_job_notice(job: RoomJob, process: str = "") -> str:
    """The one-line notice for a lost job (its worker stopped while the call ran)."""
    return f"{lost_job_finding(job, process)}; press d to re-dispatch"


def running_job(jobs: Iterable[RoomJob]) -> RoomJob | None:
    """The latest running job, if any."""
    running = [job for job in jobs if job.status == "running"]
    return max(running, key=lambda job: job.started_at or 0.0) if running else None


def describe_job(job: RoomJob, process: str = "") -> str:
    """One job for the jobs line: ``job AJ_… running on worker AW_… (pid 1234@host)``."""
    if job.status == "unassigned":
        return f"dispatch {job.dispatch_id}: no job listed yet"
    if job.status == "lost":
        return lost_job_notice(job, process)
    worker = f" on worker {job.worker_id}" if job.worker_id else ""
    pid = f" (pid {process})" if process else ""
    error = f": {job.error}" if job.error else ""
    return f"job {job.job_id} {job.status}{worker}{pid}{error}"


def jobs_health(jobs: Iterable[RoomJob]) -> JobsHealth:
    """``ok`` while a job runs; ``bad`` when none runs and one was lost or failed; else
    ``pending`` (no job listed yet, or none at all)."""
    statuses = {job.status for job in jobs}
    if "running" in statuses:
        return "ok"
    if statuses & {"lost", "failed"}:
        return "bad"
    return "pending"


def room_worker(jobs: Sequence[RoomJob]) -> str:
    """The worker id to show for a room: its running job's, else its latest job's, else ""."""
    with_worker = [job for job in jobs if job.worker_id]
    chosen = running_job(with_worker) or max(
        with_worker, key=lambda job: job.started_at or 0.0, default=None
    )
    return chosen.worker_id if chosen else ""


def _recent(lines: deque[TranscriptLine], segment_id: str) -> TranscriptLine | None:
    """The finished line for ``segment_id`` among the last few (bounded: O(1) per event)."""
    for index in range(len(lines) - 1, max(-1, len(lines) - 1 - IN_PROGRESS_CAP * 2), -1):
        if lines[index].segment_id == segment_id:
            return lines[index]
    return None


def _pick_key(view: AgentView) -> tuple[bool, float]:
    return (view.connected, view.joined_at if view.connected else (view.left_at or 0.0))
