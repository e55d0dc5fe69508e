"""Domain events: what the dashboard learns about a room, independent of where it came from.

Adapters (the room observer, later the log bridge and in-process session hooks) turn their
sources into these small immutable values and hand them to a plain callable sink; the app applies
them to the pure state model in :mod:`tui.core.state`. Nothing here knows about livekit or
Textual, so events can be built freely in tests.

Every event carries the room it belongs to (so events from an observer of a previous room can be
recognised as stale after a room switch) and ``at``, a :func:`time.monotonic` timestamp taken
when the event was created, which is what durations such as "missing for 12 s" are measured from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, TypeAlias

from tui.core.infra_events import INFRA_EVENT_TYPES, InfraEvent

Attributes: TypeAlias = tuple[tuple[str, str], ...]
"""Participant attributes as sorted ``(key, value)`` pairs: immutable, hashable, comparable."""

ObserverState: TypeAlias = Literal[
    "connecting", "connected", "reconnecting", "reconnected", "disconnected", "failed"
]
TrackStatus: TypeAlias = Literal[
    "published",
    "subscribed",
    "unsubscribed",
    "unpublished",
    "subscription_failed",
    "muted",
    "unmuted",
]
"""``muted``/``unmuted`` report a mute change of an already known publication."""


def freeze_attributes(attributes: Mapping[str, str]) -> Attributes:
    """Turn an attribute mapping into the immutable form events carry (sorted by key)."""
    return tuple(sorted((str(key), str(value)) for key, value in attributes.items()))


def _now() -> float:
    # A named function rather than the bare builtin so tests can monkeypatch one place.
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class ObserverStatus:
    """The observer's own connection to the room changed."""

    room: str
    state: ObserverState
    detail: str = ""
    metadata: str = ""
    """The room's metadata once connected (its scenario, for a room dispatch-tui created)."""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    """A (non-hidden) participant is in the room: joined live, or found when the observer joined.

    ``kind`` is the lower-case participant kind (``agent``, ``standard``, ``sip``, ...).
    """

    room: str
    identity: str
    name: str = ""
    kind: str = "standard"
    attributes: Attributes = ()
    sid: str = ""
    at: float = field(default_factory=_now)

    @property
    def attribute_map(self) -> dict[str, str]:
        """The attributes as a fresh dict."""
        return dict(self.attributes)


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    """A participant left the room; ``reason`` is the server's disconnect reason if known."""

    room: str
    identity: str
    reason: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class AttributesChanged:
    """A participant's attributes changed.

    ``attributes`` is the complete set after the change (so applying it replaces, never merges);
    ``changed`` only the keys that changed, with their new values (an empty value = removed).
    """

    room: str
    identity: str
    attributes: Attributes
    changed: Attributes = ()
    at: float = field(default_factory=_now)

    @property
    def attribute_map(self) -> dict[str, str]:
        """The complete attributes as a fresh dict."""
        return dict(self.attributes)


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """A remote track publication changed status.

    ``source`` and ``kind`` are lower-case names (``microphone``, ``audio``); ``error`` is only set
    for ``subscription_failed``.
    """

    room: str
    identity: str
    sid: str
    name: str = ""
    source: str = "unknown"
    kind: str = "audio"
    muted: bool = False
    status: TrackStatus = "published"
    error: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ActiveSpeakers:
    """The server's current list of active speakers (only tracks the observer subscribes to)."""

    room: str
    identities: tuple[str, ...]
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class AudioLevel:
    """The RMS level of a participant's received audio over the last metering interval.

    ``rms_dbfs`` is relative to full scale (a full-scale sine is about -3 dBFS); digital silence
    is reported as :data:`tui.core.audio_level.SILENCE_DBFS`.
    """

    room: str
    identity: str
    rms_dbfs: float
    track_sid: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ConnectionQualityChanged:
    """A participant's connection quality.

    ``quality`` is one of ``excellent``, ``good``, ``poor``, ``lost``, ``unknown``.
    """

    room: str
    identity: str
    quality: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """The current text of one transcript segment spoken by ``identity``.

    Non-final events carry the whole text so far (replace, do not append); the final one the
    complete segment. ``text`` is plain text from the room and must never be rendered as markup.
    """

    room: str
    identity: str
    segment_id: str
    text: str
    final: bool = False
    track_id: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """An agent session's own event, read from the room (see :mod:`agents.session_wire`).

    ``identity`` is the participant that published it; ``role`` the agent it is about
    (``dispatcher``, ``driver``, or ``""`` for the whole call), which differs when one agent
    reports for another that never joined. ``sent_at`` is the sender's wall clock.
    """

    room: str
    identity: str
    role: str
    kind: str
    payload: dict[str, Any]
    seq: int = 0
    sent_at: float = 0.0
    at: float = field(default_factory=_now)


class RoomJob(NamedTuple):
    """One agent job of a room, as the server lists it; unpacks as ``(job_id, worker_id, status,
    ...)``. Built by :func:`tui.core.control_plane_jobs.jobs_of`.

    ``status`` is ``pending``, ``running``, ``success``, ``failed``, ``cancelled``, ``lost``
    (running per the server, but its participant left the room: the worker died), ``ended``
    (the same after the worker said the call ended, see :func:`tui.core.jobs.ended_jobs`) or
    ``unassigned`` (a dispatch no worker took; ``job_id`` and ``worker_id`` are empty).
    """

    job_id: str
    worker_id: str
    status: str
    dispatch_id: str
    participant_identity: str
    error: str
    started_at: float | None
    """Epoch seconds, or None when the server has not recorded a start."""


@dataclass(frozen=True, slots=True)
class JobsListed:
    """The server's agent jobs of the room, as just listed (the dashboard polls for them).

    ``jobs`` holds every job of every dispatch of the room, with one ``unassigned`` entry per
    dispatch that has no job yet; see :class:`RoomJob`.
    """

    room: str
    jobs: tuple[RoomJob, ...]
    at: float = field(default_factory=_now)


DomainEvent: TypeAlias = (
    ObserverStatus
    | ParticipantJoined
    | ParticipantLeft
    | AttributesChanged
    | TrackUpdate
    | ActiveSpeakers
    | AudioLevel
    | ConnectionQualityChanged
    | TranscriptSegment
    | SessionEvent
    | JobsListed
)
"""Everything an adapter may hand to a sink."""

DOMAIN_EVENT_TYPES: tuple[type, ...] = (
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    AttributesChanged,
    TrackUpdate,
    ActiveSpeakers,
    AudioLevel,
    ConnectionQualityChanged,
    TranscriptSegment,
    SessionEvent,
    JobsListed,
)
"""The members of :data:`DomainEvent`, for ``isinstance`` checks and exhaustive tests."""

WatchEvent: TypeAlias = DomainEvent | InfraEvent
"""Everything one watch reports: the room's own events and those about the server, the control
plane, the worker and the room list around it (:mod:`tui.core.infra_events`)."""

WATCH_EVENT_TYPES: tuple[type, ...] = DOMAIN_EVENT_TYPES + INFRA_EVENT_TYPES
