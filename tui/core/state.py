"""The pure state model of the observed room: domain events in, read-only views out.

No IO, no threads, no clocks of its own: every time comes from the events (``event.at``, a
:func:`time.monotonic` value) or from the ``now`` a caller passes to a duration helper, so the
model is deterministic and trivially testable. The app applies events on its own thread and
widgets read the views; nothing here is thread-safe and nothing needs to be.


The per-participant views and role classification are in :mod:`tui.core.agent_view`; the job
wording in :mod:`tui.core.jobs`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

from agents.constants import (
    AGENT_STATE_ATTRIBUTE,
    WORKER_HOST_ATTRIBUTE,
    WORKER_ID_ATTRIBUTE,
    WORKER_PID_ATTRIBUTE,
)
from tui.core.agent_view import (
    TRANSCRIPT_CAP,
    AgentView,
    TrackView,
    TranscriptLine,
    overlap_seconds,
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
    SessionEvent,
    TrackUpdate,
    TranscriptSegment,
)
from tui.core.jobs import ended_jobs
from tui.core.roles import RoleMatch, RoleRules, agents_from_metadata
from tui.core.state_roles import RoleQueries
from tui.core.transcript import apply_segment

STREAMING_EVENTS: Final = (AudioLevel, TranscriptSegment, ActiveSpeakers)
"""Events that arrive several times a second while an agent talks (see ``prompt_version``).
The server's active speakers are among them: the panes' speaking indicator is heard in the
audio (:mod:`tui.core.live_turns`, which asks for its own prompt redraws), so they only feed
checks and need no redraw of their own."""


# --------------------------------------------------------------------------- the room


class RoomState(RoleQueries):
    """The observed room. Apply events with :meth:`apply`; read with the accessors.

    Events for another room (left over from before a :meth:`reset`) are counted in ``ignored``
    and change nothing. Departed agents are kept (``connected=False``) so a pane can say
    "left 5 s ago"; departed standard participants are dropped.
    """

    def __init__(
        self, room: str = "", *, now: float = 0.0, matches: tuple[RoleMatch, ...] = ()
    ) -> None:
        self.room = room
        self.matches = matches
        """``--match`` patterns, kept across rooms."""
        self.rules = RoleRules(matches=matches)
        """The observed room's expected agents and role filters (its scenario, once known)."""
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
        self.call_ended = False
        """The worker said the call ended (``conversation_ended``): a job whose participant
        left is ``ended``, not lost (:func:`tui.core.jobs.ended_jobs`)."""
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
            # read by the latency book and the diagnostics; the panes' state keeps only the end
            SessionEvent: self._on_session,
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
        self.call_ended = False
        self.worker_processes.clear()
        self._participants.clear()
        self.rules = RoleRules(matches=self.matches)
        self.version += 1
        self.prompt_version += 1

    def touch(self) -> None:
        """Something the panes draw from outside this model changed (speaking heard in the
        audio): draw at once."""
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
        return apply_segment(view, event, self._finish)

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
        view._reclassify(self.rules)
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
            view._reclassify(self.rules)
            return True
        if view is None:
            result = self.rules.classify(event.identity, event.name, event.kind, attributes)
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
            view._reclassify(self.rules)
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
        agents = agents_from_metadata(event.metadata)
        if agents is not None and agents != self.rules.agents:
            self.rules = RoleRules(agents, self.matches)
            for view in self._participants.values():
                view._reclassify(self.rules)
        if event.state in ("disconnected", "failed"):
            # Nobody will tell us when speaking stops any more.
            for view in self._participants.values():
                view._set_speaking(False, event.at)
            self.active_speakers = ()
        return True

    def _on_jobs(self, event: JobsListed) -> bool:
        self.jobs_at = event.at
        jobs = ended_jobs(event.jobs) if self.call_ended else event.jobs
        if jobs == self.jobs:
            return False
        self.jobs = jobs
        return True

    def _on_session(self, event: SessionEvent) -> bool:
        if event.kind != "conversation_ended" or self.call_ended:
            return False
        self.call_ended = True  # its agents leave now: their job is over, not lost
        self.jobs = ended_jobs(self.jobs)
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

    def in_progress(self) -> list[TranscriptLine]:
        """Every open segment in the room, oldest first."""
        lines = [line for view in self._participants.values() for line in view.in_progress.values()]
        return sorted(lines, key=lambda line: line.started_at)

    def speaking_overlap_s(self, at_least_s: float = 0.0) -> float:
        """Seconds the dispatcher and driver spoke at once, over their recorded intervals
        (stretches shorter than ``at_least_s`` left out)."""
        dispatcher, driver = self.dispatcher(), self.driver()
        if dispatcher is None or driver is None:
            return 0.0
        return overlap_seconds(
            dispatcher.speaking_intervals, driver.speaking_intervals, at_least_s=at_least_s
        )


def _process(attributes: Mapping[str, str]) -> str:
    pid = attributes.get(WORKER_PID_ATTRIBUTE, "")
    host = attributes.get(WORKER_HOST_ATTRIBUTE, "")
    return f"{pid}@{host}" if pid and host else pid
