"""A call's measured cost against the CPU the machine leaves the worker (fakes, no LiveKit)."""

from __future__ import annotations

import pytest

from agents.machine_capacity import (
    CALL_CORE_SHARE,
    REFERENCE_CALIBRATION_S,
    MachineShare,
    call_core_share,
    calls_for,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_call_costs_more_on_a_slower_core() -> None:
    ticks = iter([0.0, REFERENCE_CALIBRATION_S * 3, 0.0, REFERENCE_CALIBRATION_S * 2])
    share = call_core_share(work=lambda: None, clock=lambda: next(ticks), repeats=2)
    assert share == pytest.approx(CALL_CORE_SHARE * 2)  # the best of the runs


def test_calls_fit_in_the_core_budget() -> None:
    assert calls_for(2, 0.25) == 5  # 1.4 cores of calls at a quarter each
    assert calls_for(2, 0.2) == 7
    assert calls_for(1, 5.0) == 1  # never none


def test_other_processes_demand_is_the_load_minus_the_workers_own_cpu() -> None:
    clock, cpu, load = Clock(), [10.0], [0.0]
    share = MachineShare(
        2, loadavg=lambda: (load[0], 0.0, 0.0), cpu_time=lambda: cpu[0], clock=clock
    )
    assert share.fraction() == 1.0  # an idle machine is all the worker's
    load[0] = 2.0  # a CPU burner and a test run: the worker gets half the cores
    assert share.fraction() == pytest.approx(0.5)
    # the worker itself used 1.5 cores over the last 2 s: only 0.5 of the load is others'
    clock.now += 2.0
    cpu[0] += 3.0
    assert share.others() == pytest.approx(0.5)
    assert share.fraction() == pytest.approx(2 / 2.5)
    # within a sampling period the rate is kept, not re-measured over a sliver
    clock.now += 0.1
    assert share.others() == pytest.approx(0.5)
