"""Checks of turn-taking, from the analytics of :mod:`tui.core.record.analytics`: two agents
talking over each other, or both waiting for the other (a deadlock).

Pure functions of a :class:`~tui.core.record.analytics.TurnTaking`: the call record's report
uses them for its findings, and the live engine can use them over the intervals it has heard.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.core.diagnostics.check import Check, Thresholds
from tui.core.record.analytics import TurnTaking

DEFAULT = Thresholds()


def _names(identities: tuple[str, ...], names: Mapping[str, str]) -> str:
    return " and ".join(names.get(identity) or identity for identity in identities) or "agents"


def overlap(tt: TurnTaking, names: Mapping[str, str], t: Thresholds = DEFAULT) -> Check:
    """Fails when agents were audible at once for :attr:`Thresholds.overlap_s` in total."""
    title = "One speaker at a time"
    if not tt.turns:
        return Check("turn.overlap", title, "pending", "nobody has spoken yet")
    total = sum(stretch.seconds for stretch in tt.overlaps)
    if not tt.overlaps:
        return Check("turn.overlap", title, "ok", "no overlap")
    worst = max(tt.overlaps, key=lambda stretch: stretch.seconds)
    finding = (
        f"{_names(worst.identities, names)} spoke at the same time {len(tt.overlaps)} "
        f"time{'s' if len(tt.overlaps) != 1 else ''} ({total:.1f} s in all, longest "
        f"{worst.seconds:.1f} s)"
    )
    fix = "one session is not waiting for the other: check the turn relay"
    return Check("turn.overlap", title, "fail" if total >= t.overlap_s else "warn", finding, fix)


def deadlock(tt: TurnTaking, names: Mapping[str, str]) -> Check:
    """Fails when every agent listened and nobody spoke for the deadlock threshold."""
    title = "Someone takes the turn"
    if tt.deadlocks is None:
        return Check("turn.deadlock", title, "pending", "needs the states of two agents")
    if not tt.deadlocks:
        return Check("turn.deadlock", title, "ok", "no deadlock")
    longest = max(tt.deadlocks, key=lambda stretch: stretch.seconds)
    times = f"{len(tt.deadlocks)} time{'s' if len(tt.deadlocks) != 1 else ''}"
    return Check(
        "turn.deadlock",
        title,
        "fail",
        f"{_names(longest.identities, names)} were all listening and nobody spoke for "
        f"{longest.seconds:.1f} s ({times})",
        "the turn was never handed over: check the turn relay and the worker log",
    )


def turn_checks(tt: TurnTaking, names: Mapping[str, str], t: Thresholds = DEFAULT) -> list[Check]:
    """Both checks of this module."""
    return [overlap(tt, names, t), deadlock(tt, names)]
