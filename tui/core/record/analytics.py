"""Turn-taking analytics: pure functions of speaking intervals and agent states, for N agents.

Inputs are on any one clock (seconds): each participant's speaking intervals (heard in its audio,
:mod:`tui.core.record.speech`), the window during which the call is on, and optionally each
agent's ``lk.agent.state`` changes. Definitions:

- a **turn** is a run of one speaker's intervals not interrupted by another speaker starting;
- a **response gap** (floor-transfer offset) runs from the end of one speaker's turn to the
  start of the next turn when that turn is another speaker's who goes on after the first
  stopped; it is negative when the answer began before the first speaker had finished (a
  backchannel inside another's turn is no response);
- an **overlap** is a stretch of at least :attr:`TurnThresholds.min_overlap_s` during which two
  or more participants are audible at once;
- **dead air** is every stretch of at least :attr:`TurnThresholds.dead_air_s` inside the call
  window during which nobody is audible (a normal response gap is shorter);
- a **deadlock** is a stretch of at least :attr:`TurnThresholds.deadlock_s` inside the call
  window during which every agent with a known state is ``listening`` and nobody is audible:
  each waits for the other.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class TurnThresholds:
    """What counts as an overlap, dead air and a deadlock (seconds)."""

    min_overlap_s: float = 0.6
    """Shorter simultaneous sound at a turn change is delivery jitter, not an overlap: the relay
    never lets an agent start before the other stopped, yet an observer on a loaded 2-core
    machine heard the next line start up to 0.55 s before the last one's tail (each track is
    delivered and metered on its own; measured over 15 offline calls at load 4 to 17)."""
    dead_air_s: float = 2.0
    """Silence this long while the call is on is dead air; a reply within it is not."""
    deadlock_s: float = 6.0
    """Every agent listening and nobody speaking this long is a deadlock."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One speaker holding the floor from ``start`` to ``end``."""

    identity: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Gap:
    """``responder`` started speaking ``seconds`` after ``previous`` stopped (negative: before)."""

    previous: str
    responder: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Stretch:
    """A stretch of time and who it concerns (the overlapping speakers, the silent agents)."""

    start: float
    end: float
    identities: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class TurnTaking:
    """Everything :func:`turn_taking` found."""

    turns: tuple[Turn, ...]
    gaps: tuple[Gap, ...]
    overlaps: tuple[Stretch, ...]
    dead_air: tuple[Stretch, ...]
    deadlocks: tuple[Stretch, ...] | None
    """None when fewer than two agents reported a state: a deadlock cannot be told."""
    window: Interval | None
    speaking_s: Mapping[str, float] = field(default_factory=dict)

    def turns_of(self, identity: str) -> list[Turn]:
        return [turn for turn in self.turns if turn.identity == identity]

    def gaps_before(self, identity: str) -> list[float]:
        """Response gaps of ``identity``: how long it took to answer each time."""
        return [gap.seconds for gap in self.gaps if gap.responder == identity]

    def longest_turn(self) -> Turn | None:
        return max(self.turns, key=lambda turn: turn.seconds, default=None)

    def summary(self) -> dict[str, Any]:
        """The ``turn_taking`` object of ``report.json`` (seconds rounded to ms)."""
        gaps = [gap.seconds for gap in self.gaps]
        longest = self.longest_turn()
        return {
            "response_gap_s": {
                "p50": _ms(percentile(gaps, 50)),
                "p95": _ms(percentile(gaps, 95)),
                "max": _ms(max(gaps, default=None)),
                "count": len(gaps),
            },
            "overlaps": len(self.overlaps),
            "overlap_s": _ms(sum(s.seconds for s in self.overlaps)),
            "dead_air_s": _ms(sum(s.seconds for s in self.dead_air)),
            "longest_turn_s": _ms(longest.seconds if longest else 0.0),
            "longest_turn_by": longest.identity if longest else None,
            "deadlocks": None if self.deadlocks is None else len(self.deadlocks),
            "deadlock_s": None
            if self.deadlocks is None
            else _ms(sum(s.seconds for s in self.deadlocks)),
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation (numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def turns_of(speech: Mapping[str, Iterable[Interval]]) -> list[Turn]:
    """Every turn, in order of its start."""
    turns: list[Turn] = []
    for start, end, identity in sorted(
        (start, end, identity) for identity, spans in speech.items() for start, end in spans
    ):
        last = turns[-1] if turns else None
        if last is not None and last.identity == identity:
            turns[-1] = Turn(identity, last.start, max(last.end, end))
        else:
            turns.append(Turn(identity, start, end))
    return turns


def response_gaps(turns: Sequence[Turn]) -> list[Gap]:
    """The (signed) gap before each turn that takes the floor from another speaker."""
    return [
        Gap(before.identity, after.identity, before.end, after.start)
        for before, after in itertools.pairwise(turns)
        if before.identity != after.identity and after.end > before.end
    ]


def overlaps(speech: Mapping[str, Iterable[Interval]], min_s: float) -> list[Stretch]:
    """Stretches of at least ``min_s`` with two or more participants audible at once."""
    edges = sorted(
        (time, kind, identity)
        for identity, spans in speech.items()
        for start, end in spans
        for time, kind in ((start, 1), (end, 0))  # at equal times, ends first: no overlap
    )
    active: dict[str, int] = {}
    found: list[Stretch] = []
    since: float | None = None
    who: set[str] = set()
    for time, kind, identity in edges:
        active[identity] = active.get(identity, 0) + (1 if kind else -1)
        speaking = {name for name, count in active.items() if count > 0}
        if len(speaking) >= 2:
            if since is None:
                since, who = time, set()
            who |= speaking
        elif since is not None:
            if time - since >= min_s:
                found.append(Stretch(since, time, tuple(sorted(who))))
            since = None
    return found


def silences(speech: Mapping[str, Iterable[Interval]], window: Interval) -> list[Stretch]:
    """Every stretch of ``window`` during which nobody is audible."""
    start, end = window
    busy = sorted(
        (max(a, start), min(b, end))
        for spans in speech.values()
        for a, b in spans
        if b > start and a < end
    )
    quiet: list[Stretch] = []
    cursor = start
    for a, b in busy:
        if a > cursor:
            quiet.append(Stretch(cursor, a))
        cursor = max(cursor, b)
    if end > cursor:
        quiet.append(Stretch(cursor, end))
    return quiet


def listening_together(
    states: Mapping[str, Sequence[tuple[float, str]]], window: Interval
) -> list[Stretch] | None:
    """Stretches of ``window`` during which every agent's last known state is ``listening``;
    None with fewer than two agents' states."""
    if len(states) < 2:
        return None
    changes = sorted(
        (at, identity, state) for identity, series in states.items() for at, state in series
    )
    current: dict[str, str] = {}
    found: list[Stretch] = []
    since: float | None = None
    for at, identity, state in changes:
        current[identity] = state
        together = len(current) == len(states) and all(s == "listening" for s in current.values())
        if together and since is None:
            since = at
        elif not together and since is not None:
            found.append(Stretch(since, at))
            since = None
    if since is not None:
        found.append(Stretch(since, max(window[1], since)))
    clipped = [_clip(stretch, window) for stretch in found]
    return [stretch for stretch in clipped if stretch is not None]


def _clip(stretch: Stretch, window: Interval) -> Stretch | None:
    start, end = max(stretch.start, window[0]), min(stretch.end, window[1])
    return Stretch(start, end, stretch.identities) if end > start else None


def _intersect(first: Sequence[Stretch], second: Sequence[Stretch]) -> list[Stretch]:
    found = []
    for a in first:
        for b in second:
            start, end = max(a.start, b.start), min(a.end, b.end)
            if end > start:
                found.append(Stretch(start, end, a.identities or b.identities))
    return found


def turn_taking(
    speech: Mapping[str, Iterable[Interval]],
    window: Interval | None,
    states: Mapping[str, Sequence[tuple[float, str]]] | None = None,
    thresholds: TurnThresholds | None = None,
) -> TurnTaking:
    """Every figure of the module docstring. ``window`` is when the call is on (None: from the
    first speech to the last); ``states`` each agent's ``(at, lk.agent.state)`` changes."""
    t = thresholds or TurnThresholds()
    spans = {identity: sorted(intervals) for identity, intervals in speech.items()}
    turns = turns_of(spans)
    if window is None and turns:
        window = (min(turn.start for turn in turns), max(turn.end for turn in turns))
    quiet = silences(spans, window) if window is not None else []
    deadlocks: list[Stretch] | None = None
    if states is not None and window is not None:
        listening = listening_together(states, window)
        if listening is not None:
            names = tuple(sorted(states))
            deadlocks = [
                Stretch(s.start, s.end, names)
                for s in _intersect(listening, quiet)
                if s.seconds >= t.deadlock_s
            ]
    return TurnTaking(
        turns=tuple(turns),
        gaps=tuple(response_gaps(turns)),
        overlaps=tuple(overlaps(spans, t.min_overlap_s)),
        dead_air=tuple(s for s in quiet if s.seconds >= t.dead_air_s),
        deadlocks=None if deadlocks is None else tuple(deadlocks),
        window=window,
        speaking_s={identity: sum(b - a for a, b in ivs) for identity, ivs in spans.items()},
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
