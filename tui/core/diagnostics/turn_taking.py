"""Checks of turn-taking, from the analytics of :mod:`tui.core.record.analytics`: agents
talking over each other, or all waiting for the others (a deadlock).

Pure functions: of a :class:`~tui.core.record.analytics.TurnTaking` for the call record's
report (:func:`turn_checks`), and of the live figures of a
:class:`~tui.core.live_turns.LiveTurns` for the diagnostics engine (:func:`live_checks`,
which also counts an overlap or a deadlock still going on). Both give the same ids and words.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.core.diagnostics.check import Check, Status, Thresholds
from tui.core.live_turns import LiveTurns
from tui.core.record.analytics import Stretch, TurnTaking

DEFAULT = Thresholds()


def _names(identities: tuple[str, ...], names: Mapping[str, str]) -> str:
    return " and ".join(names.get(identity) or identity for identity in identities) or "agents"


OVERLAP_TITLE = "One speaker at a time"
DEADLOCK_TITLE = "Someone takes the turn"


def overlap(tt: TurnTaking, names: Mapping[str, str], t: Thresholds = DEFAULT) -> Check:
    """Fails when agents were audible at once for :attr:`Thresholds.overlap_s` in total."""
    if not tt.turns:
        return Check("turn.overlap", OVERLAP_TITLE, "pending", "nobody has spoken yet")
    if not tt.overlaps:
        return Check("turn.overlap", OVERLAP_TITLE, "ok", "no overlap")
    worst = max(tt.overlaps, key=lambda stretch: stretch.seconds)
    total = sum(stretch.seconds for stretch in tt.overlaps)
    return _overlapped(len(tt.overlaps), total, worst, names, t)


def _overlapped(
    count: int, total: float, worst: Stretch, names: Mapping[str, str], t: Thresholds
) -> Check:
    times = f"{count} time{'s' if count != 1 else ''}"
    finding = (
        f"{_names(worst.identities, names)} spoke at the same time {times} ({total:.1f} s in "
        f"all, longest {worst.seconds:.1f} s)"
    )
    fix = "one session is not waiting for the other: check the turn relay"
    status: Status = "fail" if total >= t.overlap_s else "warn"
    return Check("turn.overlap", OVERLAP_TITLE, status, finding, fix)


def deadlock(tt: TurnTaking, names: Mapping[str, str]) -> Check:
    """Fails when every agent listened and nobody spoke for the deadlock threshold."""
    if tt.deadlocks is None:
        return Check("turn.deadlock", DEADLOCK_TITLE, "pending", "needs the states of two agents")
    if not tt.deadlocks:
        return Check("turn.deadlock", DEADLOCK_TITLE, "ok", "no deadlock")
    longest = max(tt.deadlocks, key=lambda stretch: stretch.seconds)
    return _deadlocked(len(tt.deadlocks), longest, names)


def _deadlocked(count: int, longest: Stretch, names: Mapping[str, str], now: str = "") -> Check:
    times = f"{count} time{'s' if count != 1 else ''}"
    return Check(
        "turn.deadlock",
        DEADLOCK_TITLE,
        "fail",
        f"{_names(longest.identities, names)} were all listening and nobody spoke for "
        f"{longest.seconds:.1f} s{now} ({times})",
        "the turn was never handed over: check the turn relay and the worker log",
    )


def turn_checks(tt: TurnTaking, names: Mapping[str, str], t: Thresholds = DEFAULT) -> list[Check]:
    """Both checks of this module."""
    return [overlap(tt, names, t), deadlock(tt, names)]


def live_checks(turns: LiveTurns, now: float, t: Thresholds = DEFAULT) -> list[Check]:
    """Both checks over what :class:`LiveTurns` has heard up to ``now``."""
    names = {identity: agent.name for identity, agent in turns.agents.items()}
    return [_live_overlap(turns, now, names, t), _live_deadlock(turns, now, names)]


def _live_overlap(turns: LiveTurns, now: float, names: Mapping[str, str], t: Thresholds) -> Check:
    if len(turns.agents) < 2:
        return Check("turn.overlap", OVERLAP_TITLE, "pending", "needs two agents")
    sweep = turns.sweep
    total = turns.overlap_s(now)
    if sweep.overlap_count == 0 and total < t.overlap_s:
        shown = f" ({total:.1f} s)" if total >= 0.05 else ""
        return Check("turn.overlap", OVERLAP_TITLE, "ok", f"no overlap{shown}")
    worst = sweep.overlap_worst
    if worst is None or total - sweep.overlap_total > worst.seconds:
        # the overlap going on now is the worst one
        audible = tuple(sorted(i for i, s in turns.speakers.items() if s.open is not None))
        worst = Stretch(now - (total - sweep.overlap_total), now, audible)
    return _overlapped(max(1, sweep.overlap_count), total, worst, names, t)


def _live_deadlock(turns: LiveTurns, now: float, names: Mapping[str, str]) -> Check:
    sweep = turns.sweep
    if sweep.agents_with_states < 2:
        return Check("turn.deadlock", DEADLOCK_TITLE, "pending", "needs the states of two agents")
    unswept = turns.quiet_together(now)
    if unswept is not None and unswept[0].seconds >= turns.turn_thresholds.deadlock_s:
        stretch, going_on = unswept
        return _deadlocked(sweep.deadlock_count + 1, stretch, names, " so far" * going_on)
    if sweep.deadlock_longest is not None:
        return _deadlocked(sweep.deadlock_count, sweep.deadlock_longest, names)
    return Check("turn.deadlock", DEADLOCK_TITLE, "ok", "no deadlock")
