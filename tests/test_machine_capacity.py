"""A call's measured CPU cost against the cores (fake clocks, no LiveKit)."""

from __future__ import annotations

import pytest

from agents.machine_capacity import (
    CALL_CORE_SHARE,
    REFERENCE_CALIBRATION_S,
    call_core_share,
    calls_for,
)


def test_a_call_costs_more_on_a_slower_core() -> None:
    ticks = iter([0.0, REFERENCE_CALIBRATION_S * 3, 0.0, REFERENCE_CALIBRATION_S * 2])
    share = call_core_share(work=lambda: None, clock=lambda: next(ticks), repeats=2)
    assert share == pytest.approx(CALL_CORE_SHARE * 2)  # the best of the runs


def test_calls_fit_in_the_core_budget() -> None:
    assert calls_for(2, 0.25) == 5  # 1.4 cores of calls at a quarter each
    assert calls_for(2, 0.2) == 7
    assert calls_for(1, 5.0) == 1  # never none
