"""The incremental turn-taking sweep equals the batch analytics, on random calls of 2-4 agents
fed as a live call feeds it: intervals when they close, states as they change."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.core.record.analytics import TurnThresholds, turn_taking
from tui.core.record.sweep import TurnSweep

STATES = st.sampled_from(["listening"] * 3 + ["thinking", "speaking"])
STEP = 0.05  # times on a grid: ties between edges happen, as they do with metered levels


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    names = ["tim", "chris", "sam", "ana"][: draw(st.integers(2, 4))]
    speech: dict[str, list[tuple[float, float]]] = {}
    for name in names:
        at, spans = draw(st.integers(0, 40)) * STEP, []
        for _ in range(draw(st.integers(0, 8))):
            length = draw(st.integers(3, 80)) * STEP
            spans.append((round(at, 2), round(at + length, 2)))
            at += length + draw(st.integers(1, 400)) * STEP
        speech[name] = spans
    states: dict[str, list[tuple[float, str]]] = {}
    for name in names[: draw(st.sampled_from([0, 1, *[len(names)] * 4]))]:
        at, series = draw(st.integers(0, 20)) * STEP, []
        for state in draw(st.lists(STATES, min_size=1, max_size=6)):
            if not series or series[-1][1] != state:
                series.append((round(at, 2), state))
            at += draw(st.integers(1, 400)) * STEP
        if series:
            states[name] = series
    start = draw(st.integers(0, 60)) * STEP
    window = (start, start + draw(st.integers(1, 2400)) * STEP)
    return {"speech": speech, "states": states, "window": window}


def swept(call: dict[str, Any], thresholds: TurnThresholds) -> TurnSweep:
    """Feed the sweep in arrival order: an interval when it closes, a state when it changes;
    advance to the earliest time something not yet fed could start."""
    sweep = TurnSweep(thresholds)
    sweep.set_window(*call["window"])
    items = [(end + 0.6, "speech", name, (start, end)) for name, spans in call["speech"].items()
             for start, end in spans]  # fmt: skip
    items += [(at, "state", name, (at, state)) for name, series in call["states"].items()
              for at, state in series]  # fmt: skip
    items.sort(key=lambda item: item[0])
    for index, (_, kind, name, value) in enumerate(items):
        if kind == "speech":
            sweep.add_speech(name, *value)
        else:
            sweep.add_state(name, *value)
        later = [item[3][0] for item in items[index + 1 :]]
        sweep.advance(min(later, default=float("inf")))
    sweep.finish()
    return sweep


@given(calls())
def test_the_sweep_equals_the_batch_analytics(call: dict[str, Any]) -> None:
    thresholds = TurnThresholds(min_overlap_s=0.25, dead_air_s=2.0, deadlock_s=6.0)
    batch = turn_taking(call["speech"], call["window"], call["states"] or None, thresholds)
    sweep = swept(call, thresholds)
    expected = batch.summary()
    if len(call["states"]) < 2:
        expected["deadlocks"] = expected["deadlock_s"] = None
    assert sweep.summary() == expected
    assert sweep.speaking_s == pytest.approx(
        {name: value for name, value in batch.speaking_s.items() if call["speech"][name]}
    )


def test_figures_are_there_while_the_call_goes_on() -> None:
    sweep = TurnSweep()
    sweep.set_window(0.0, None)
    sweep.add_state("tim", 0.0, "listening")
    sweep.add_state("chris", 0.0, "listening")
    sweep.add_speech("tim", 1.0, 4.0)
    sweep.add_speech("chris", 4.5, 6.0)
    sweep.advance(6.5)
    # the gap is known once Chris speaks past Tim's end; Chris's turn may still grow
    assert sweep.summary()["response_gap_s"]["count"] == 1
    assert sweep.summary()["longest_turn_s"] == 3.0
    assert sweep.quiet_since == 6.0 and sweep.listening_since == 0.0
    sweep.add_speech("chris", 6.2, 10.5)  # a word gap: the same turn, now the longest
    sweep.advance(11.0)
    assert sweep.summary()["longest_turn_by"] == "chris"
    assert sweep.summary()["longest_turn_s"] == 6.0


def test_gaps_kept_for_percentiles_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.core.record.sweep as module

    monkeypatch.setattr(module, "GAPS_KEPT", 3)
    sweep = TurnSweep()
    at = 0.0
    for index, gap in enumerate([9.0, 1.0, 1.0, 1.0, 1.0]):
        sweep.add_speech("tim" if index % 2 else "chris", at, at + 1.0)
        at += 1.0 + gap
    sweep.advance(at)
    sweep.finish()
    assert sweep.gap_count == 4 and sweep.gap_max == 9.0  # counts and maximum: every gap
    assert sweep.gap_percentile(100) == 1.0  # percentiles: the 3 latest (the 9 s one left)
