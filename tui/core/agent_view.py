"""One participant of the observed room as the dashboard shows it: its role, tracks,
transcript lines and speaking intervals (:class:`AgentView`), and how a participant is
classified into a role.

The roles and the rule that gives them are :mod:`tui.core.roles`'s; :func:`classify` applies
the guide's default rule. :class:`~tui.core.state.RoomState` owns the views.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from tui.core.roles import DEFAULT_AGENTS, DEFAULT_RULES, Classification, RoleRules

Role: TypeAlias = str
"""An agent's role (``dispatcher``, ``driver``, a scenario's own), ``unmatched`` for an agent
matching no role filter, or ``standard`` for any non-agent participant without a role attribute."""

AgentRole: TypeAlias = str
EXPECTED_ROLES: Final[tuple[AgentRole, ...]] = tuple(agent.role for agent in DEFAULT_AGENTS)
"""The roles of a room without a scenario (the guide's pair)."""

TRANSCRIPT_CAP: Final = 200
"""Finished transcript lines kept per agent and for the whole room."""
IN_PROGRESS_CAP: Final = 8
"""Open segments kept per participant; a sender that never finalises cannot grow memory."""
SPEAKING_HISTORY: Final = 50
"""Closed speaking intervals kept per participant (enough for overlap checks on recent turns)."""


def classify(identity: str, name: str, kind: str, attributes: Mapping[str, str]) -> Classification:
    """A participant's role by the guide's rule (:data:`tui.core.roles.DEFAULT_RULES`)."""
    return DEFAULT_RULES.classify(identity, name, kind, attributes)


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

    def _reclassify(self, rules: RoleRules = DEFAULT_RULES) -> None:
        result = rules.classify(self.identity, self.name, self.kind, self.attributes)
        self.role, self.match_reason = result.role, result.reason


def overlap_seconds(
    first: Iterable[tuple[float, float]],
    second: Iterable[tuple[float, float]],
    *,
    at_least_s: float = 0.0,
) -> float:
    """Total time during which an interval of ``first`` and one of ``second`` both run,
    leaving out each stretch shorter than ``at_least_s``."""
    ordered_second = sorted(second)
    total = 0.0
    for start, end in first:
        for other_start, other_end in ordered_second:
            if other_start >= end:
                break
            stretch = min(end, other_end) - max(start, other_start)
            if stretch > 0.0 and stretch >= at_least_s:
                total += stretch
    return total
