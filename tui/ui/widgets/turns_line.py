"""The observed call's turn-taking in one line, live: response gaps, overlaps, dead air, the
longest turn and deadlocks, as heard in the agents' audio (:mod:`tui.core.live_turns`)."""

from __future__ import annotations

from tui.core.live_turns import LiveTurns
from tui.ui.widgets.status_bar import StatusItem


class TurnsLine(StatusItem):
    """``turns: gap p50 0.6 s p95 0.9 s (5) · overlaps 0 · dead air 0.0 s · …``."""

    def show_turns(self, turns: LiveTurns, now: float) -> None:
        """Render the figures of ``turns`` at ``now`` (repaints only when the text changes)."""
        self.show(*turns_text(turns, now))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def turns_text(turns: LiveTurns, now: float) -> tuple[str, str]:
    """The line's text and health (``ok``, ``pending`` or ``bad``)."""
    sweep = turns.sweep
    longest = sweep.longest_turn()
    if longest is None and not any(s.open for s in turns.speakers.values()):
        return "turns: nobody has spoken yet", "pending"
    overlap_s = turns.overlap_s(now)
    overlaps = sweep.overlap_count + (overlap_s - sweep.overlap_total >= 0.25)
    going_on = turns.quiet_together(now)
    deadlocks = sweep.deadlock_count + bool(
        going_on and going_on[0].seconds >= turns.turn_thresholds.deadlock_s
    )
    parts = [
        f"gap p50 {_seconds(sweep.gap_percentile(50))} p95 {_seconds(sweep.gap_percentile(95))}"
        f" ({sweep.gap_count})",
        f"overlaps {overlaps} ({overlap_s:.1f} s)",
        f"dead air {sweep.dead_air_total:.1f} s",
    ]
    if longest is not None:
        parts.append(f"longest turn {longest.seconds:.1f} s {turns.name(longest.identity)}")
    parts.append(f"deadlocks {deadlocks if sweep.agents_with_states >= 2 else '-'}")
    health = "bad" if overlaps or deadlocks else "ok"
    return "turns: " + " · ".join(parts), health
