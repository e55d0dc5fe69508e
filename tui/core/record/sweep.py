"""Turn-taking as the call goes: the incremental twin of :func:`.analytics.turn_taking`.

A :class:`TurnSweep` takes closed speaking intervals, agent state changes and the call window
as they become known, and sweeps their edges in time order once no earlier edge can still
arrive (:meth:`TurnSweep.advance` to a horizon). Each edge is handled once, so the cost of a
call is proportional to its length, and reading the figures (:meth:`TurnSweep.summary`) costs
no recomputation. After :meth:`TurnSweep.finish` the summary equals
``turn_taking(...).summary()`` over the same inputs, definitions and thresholds (the tests
check it on random calls), with one difference by design: an agent whose first state arrives
after a deadlock was already counted does not undo it.

Memory is bounded: figures are running totals; response gaps (for percentiles) and the recent
stretches (for drawing) are capped.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from typing import Any, Final

from tui.core.record.analytics import Stretch, Turn, TurnThresholds, percentile

GAPS_KEPT: Final = 10_000
"""Response gaps kept for percentiles (the most recent ones: hours of conversation)."""
STRETCHES_KEPT: Final = 200
"""Recent overlaps, dead air and deadlocks kept for drawing."""

_END, _START, _STATE = 0, 1, 2
"""Edge kinds, in the order edges at one instant are swept (ends first: touching is no overlap)."""
_Edge = tuple[float, int, float, str, str]
"""(time, kind, end of the interval for a start, identity, state for a state change)."""


class TurnSweep:
    """Incremental turn-taking figures; see the module docstring."""

    def __init__(self, thresholds: TurnThresholds | None = None) -> None:
        self.t = thresholds or TurnThresholds()
        self.window_start: float | None = None
        self.window_end: float | None = None
        self.horizon = float("-inf")
        """Edges before this time have been swept."""
        self.speaking_s: dict[str, float] = {}
        self._pending: list[_Edge] = []
        # who is audible
        self._active: dict[str, int] = {}
        self._audible = 0
        self.overlap_since: float | None = None
        """Two or more audible since then (swept time); None otherwise."""
        self._overlap_who: set[str] = set()
        self.quiet_since: float | None = float("-inf")
        """Nobody audible since then (swept time); None while someone is."""
        # agents' states
        self._states: dict[str, str] = {}
        self.listening_since: float | None = None
        """Every agent (two or more) listening since then (swept time); None otherwise."""
        # turns and gaps
        self.turn: Turn | None = None
        """The turn in progress (the last one swept): it may still grow."""
        self._previous: Turn | None = None
        self._gap_counted = True
        self.turns = 0
        self._longest: Turn | None = None
        self._gaps: list[float] = []
        self._gap_order: deque[float] = deque()
        self.gap_count = 0
        self.gap_max: float | None = None
        # stretches
        self.overlap_count = 0
        self.overlap_total = 0.0
        self.overlap_worst: Stretch | None = None
        self.dead_air_total = 0.0
        self.deadlock_count = 0
        self.deadlock_total = 0.0
        self.deadlock_longest: Stretch | None = None
        self.recent: deque[tuple[str, Stretch]] = deque(maxlen=STRETCHES_KEPT)
        """``("overlap" | "dead_air" | "deadlock", stretch)``, oldest first."""

    # -- inputs

    def add_speech(self, identity: str, start: float, end: float) -> None:
        """A closed speaking interval; its start must not be before :attr:`horizon`."""
        self.speaking_s[identity] = self.speaking_s.get(identity, 0.0) + (end - start)
        heapq.heappush(self._pending, (start, _START, end, identity, ""))
        heapq.heappush(self._pending, (end, _END, 0.0, identity, ""))

    def add_state(self, identity: str, at: float, state: str) -> None:
        """An agent's ``lk.agent.state`` changed (a change dated before the horizon counts
        from the horizon: it was announced late)."""
        heapq.heappush(self._pending, (max(at, self.horizon), _STATE, 0.0, identity, state))

    def set_window(self, start: float | None, end: float | None) -> None:
        """When the call is on (see :func:`.analytics.turn_taking`); None: not known yet."""
        self.window_start, self.window_end = start, end

    def advance(self, horizon: float) -> None:
        """Sweep every edge before ``horizon`` (no later input may start before it)."""
        while self._pending and self._pending[0][0] < horizon:
            self._sweep(heapq.heappop(self._pending))
        self.horizon = max(self.horizon, horizon)

    def finish(self) -> None:
        """Sweep everything and close what is open at the window's end (the call is over)."""
        while self._pending:
            self._sweep(heapq.heappop(self._pending))
        end = self.window_end if self.window_end is not None else self.horizon
        if self.quiet_since is not None:
            self._quiet_ends(end)
        if self.listening_since is not None:
            self._listening_ends(end)
        self._finish_turn()

    @property
    def next_pending(self) -> float | None:
        """The earliest edge not swept yet (None: none)."""
        return self._pending[0][0] if self._pending else None

    # -- the sweep

    def _sweep(self, edge: _Edge) -> None:
        time, kind, end, identity, state = edge
        if kind == _START:
            self._turn_starts(identity, time, end)
            count = self._active.get(identity, 0)
            self._active[identity] = count + 1
            if count == 0:
                if self._audible == 0 and self.quiet_since is not None:
                    self._quiet_ends(time)
                self._audible += 1
            if self._audible >= 2:
                if self.overlap_since is None:
                    self.overlap_since, self._overlap_who = time, set()
                self._overlap_who.update(name for name, n in self._active.items() if n > 0)
        elif kind == _END:
            count = self._active[identity] - 1
            self._active[identity] = count
            if count == 0:
                self._audible -= 1
                if self._audible < 2 and self.overlap_since is not None:
                    self._overlap_ends(time)
                if self._audible == 0:
                    self.quiet_since = time
        else:
            self._states[identity] = state
            together = len(self._states) >= 2 and all(
                value == "listening" for value in self._states.values()
            )
            if together and self.listening_since is None:
                self.listening_since = time
            elif not together and self.listening_since is not None:
                self._listening_ends(time)

    def _turn_starts(self, identity: str, start: float, end: float) -> None:
        turn = self.turn
        if turn is not None and turn.identity == identity:
            self.turn = Turn(identity, turn.start, max(turn.end, end))
        else:
            self._finish_turn()
            self._previous, self.turn, self._gap_counted = turn, Turn(identity, start, end), False
        before, after = self._previous, self.turn
        if not self._gap_counted and before is not None and after.end > before.end:
            self._gap_counted = True  # final: before has ended, after's start is fixed
            self._add_gap(after.start - before.end)

    def _finish_turn(self) -> None:
        turn = self.turn
        if turn is None or turn is self._previous:
            return
        if self._longest is None or turn.seconds > self._longest.seconds:
            self._longest = turn
        self.turns += 1
        self._previous = turn

    def _add_gap(self, seconds: float) -> None:
        self.gap_count += 1
        self.gap_max = seconds if self.gap_max is None else max(self.gap_max, seconds)
        bisect.insort(self._gaps, seconds)
        self._gap_order.append(seconds)
        if len(self._gap_order) > GAPS_KEPT:
            oldest = self._gap_order.popleft()
            del self._gaps[bisect.bisect_left(self._gaps, oldest)]

    def _overlap_ends(self, time: float) -> None:
        since, self.overlap_since = self.overlap_since, None
        if since is None or time - since < self.t.min_overlap_s:
            return
        stretch = Stretch(since, time, tuple(sorted(self._overlap_who)))
        self.overlap_count += 1
        self.overlap_total += stretch.seconds
        if self.overlap_worst is None or stretch.seconds > self.overlap_worst.seconds:
            self.overlap_worst = stretch
        self.recent.append(("overlap", stretch))

    def _clip(self, start: float, end: float) -> Stretch | None:
        """``start``-``end`` inside the call window (None: outside, or no window yet)."""
        if self.window_start is None:
            return None
        start = max(start, self.window_start)
        if self.window_end is not None:
            end = min(end, self.window_end)
        return Stretch(start, end) if end > start else None

    def _quiet_ends(self, time: float) -> None:
        since, self.quiet_since = self.quiet_since, None
        if since is None:
            return
        if self.listening_since is not None:
            self._together_quiet(max(since, self.listening_since), time)
        quiet = self._clip(since, time)
        if quiet is not None and quiet.seconds >= self.t.dead_air_s:
            self.dead_air_total += quiet.seconds
            self.recent.append(("dead_air", quiet))

    def _listening_ends(self, time: float) -> None:
        since, self.listening_since = self.listening_since, None
        if since is not None and self.quiet_since is not None:
            self._together_quiet(max(since, self.quiet_since), time)

    def _together_quiet(self, start: float, end: float) -> None:
        """One stretch of every agent listening and nobody audible has ended."""
        piece = self._clip(start, end)
        if piece is None or piece.seconds < self.t.deadlock_s:
            return
        stretch = Stretch(piece.start, piece.end, tuple(sorted(self._states)))
        self.deadlock_count += 1
        self.deadlock_total += stretch.seconds
        if self.deadlock_longest is None or stretch.seconds > self.deadlock_longest.seconds:
            self.deadlock_longest = stretch
        self.recent.append(("deadlock", stretch))

    # -- reading

    @property
    def agents_with_states(self) -> int:
        return len(self._states)

    def longest_turn(self) -> Turn | None:
        """The longest turn so far, the one in progress included."""
        longest, current = self._longest, self.turn
        unfinished = current is not None and current is not self._previous
        if unfinished and (longest is None or current.seconds > longest.seconds):  # type: ignore[union-attr]
            return current
        return longest

    def gap_percentile(self, q: float) -> float | None:
        return percentile(self._gaps, q)

    def summary(self) -> dict[str, Any]:
        """The figures in the form of :meth:`.analytics.TurnTaking.summary`."""
        longest = self.longest_turn()
        deadlocks = self.agents_with_states >= 2
        return {
            "response_gap_s": {
                "p50": _ms(self.gap_percentile(50)),
                "p95": _ms(self.gap_percentile(95)),
                "max": _ms(self.gap_max),
                "count": self.gap_count,
            },
            "overlaps": self.overlap_count,
            "overlap_s": _ms(self.overlap_total),
            "dead_air_s": _ms(self.dead_air_total),
            "longest_turn_s": _ms(longest.seconds if longest else 0.0),
            "longest_turn_by": longest.identity if longest else None,
            "deadlocks": self.deadlock_count if deadlocks else None,
            "deadlock_s": _ms(self.deadlock_total) if deadlocks else None,
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
