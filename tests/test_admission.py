"""Admission's decisions, with fake servers, clocks and lag readings (no LiveKit)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest

from agents.admission import (
    ASSIGNMENT_TIMEOUT_S,
    SERVER_LOAD_TARGET,
    STARTING_S,
    Admission,
    LoopLag,
    calibrated_capacity,
    second_worst,
)
from agents.machine_capacity import REFERENCE_CALIBRATION_S


def _server(*job_ids: str) -> Any:
    return SimpleNamespace(
        active_jobs=[SimpleNamespace(job=SimpleNamespace(id=j)) for j in job_ids]
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_capacity_n_admits_n_calls_and_refuses_the_next() -> None:
    admission = Admission(2, clock=Clock())
    server = _server()
    assert admission.try_admit(server, "j1")
    assert admission.try_admit(server, "j2")  # both still only accepted, not running
    assert not admission.try_admit(server, "j3")
    assert admission.load(server) == 1.0


def test_an_accepted_call_counts_once_when_it_runs_and_not_after_it_ends() -> None:
    admission = Admission(2, clock=Clock())
    assert admission.try_admit(_server(), "j1")
    assert admission.load(_server("j1")) == pytest.approx(SERVER_LOAD_TARGET / 2)
    assert admission.try_admit(_server("j1"), "j2")
    assert not admission.try_admit(_server("j1", "j2"), "j3")
    assert admission.try_admit(_server("j2"), "j3")  # j1 ended


def test_an_accepted_call_never_assigned_stops_counting() -> None:
    clock = Clock()
    admission = Admission(1, clock=clock)
    assert admission.try_admit(_server(), "j1")
    assert not admission.try_admit(_server(), "j2")
    clock.now += ASSIGNMENT_TIMEOUT_S + 1
    assert admission.try_admit(_server(), "j2")


def test_the_load_stays_under_the_server_target_while_a_call_would_be_taken() -> None:
    admission = Admission(4, clock=Clock())
    loads = [admission.load(_server(*[f"j{i}" for i in range(n)])) for n in range(5)]
    assert loads[:4] == pytest.approx([0.0, 0.175, 0.35, 0.525])
    assert all(load < SERVER_LOAD_TARGET for load in loads[:4])
    assert loads[4] == 1.0


def test_a_lagging_loop_refuses_but_never_the_first_call() -> None:
    lag = [0.5]
    admission = Admission(10, lag=lambda: lag[0], lag_limit_s=0.25, clock=Clock())
    assert admission.try_admit(_server(), "j1")  # a free worker always takes a call
    assert not admission.try_admit(_server("j1"), "j2")
    assert admission.load(_server("j1")) == 1.0
    lag[0] = 0.01
    assert admission.try_admit(_server("j1"), "j2")


def test_becoming_full_and_free_is_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dispatch.admission")
    admission = Admission(1, clock=Clock())
    for _ in range(3):
        admission.load(_server("j1"))
    admission.load(_server())
    admission.load(_server())
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "takes up to 1 calls" in messages[0]  # the capacity, once
    assert "worker full" in messages[1] and "1 of 1 calls" in messages[1]
    assert "room again" in messages[2]


def test_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0)


def test_calibrated_capacity_scales_with_core_speed_and_count() -> None:
    def timed(seconds: list[float]) -> Any:
        ticks = itertools.chain.from_iterable((0.0, s) for s in seconds)
        return lambda: next(ticks)

    # a reference core: a call costs a quarter of it, 70 % of 2 cores holds 5 calls
    reference = [REFERENCE_CALIBRATION_S] * 3
    assert calibrated_capacity(cores=2, work=lambda: None, clock=timed(reference), repeats=3) == 5
    assert calibrated_capacity(cores=4, work=lambda: None, clock=timed(reference), repeats=3) == 11
    # two workers on 2 cores: each measures its one core (2 calls), together 4, not 10
    assert calibrated_capacity(cores=1, work=lambda: None, clock=timed(reference), repeats=3) == 2
    # a core half as fast runs half the calls; the best run counts, not a preempted one
    slow = [REFERENCE_CALIBRATION_S * 9, REFERENCE_CALIBRATION_S * 2]
    assert calibrated_capacity(cores=2, work=lambda: None, clock=timed(slow), repeats=2) == 2
    # a very slow machine still takes one call
    crawl = [REFERENCE_CALIBRATION_S * 1000]
    assert calibrated_capacity(cores=1, work=lambda: None, clock=timed(crawl), repeats=1) == 1


def test_a_burst_is_taken_only_while_its_starting_calls_fit() -> None:
    clock = Clock()
    admission = Admission(5, starting_weight=2.0, clock=clock)
    server = _server()
    taken = [admission.try_admit(server, f"j{i}") for i in range(10)]
    # starting calls count 2: 0, 2 and 4 of 5 in use take one more each, 6 does not
    assert taken == [True] * 3 + [False] * 7
    running = _server("j0", "j1", "j2")
    clock.now += STARTING_S + 0.1  # settled: they count 1 each, 3 of 5
    assert admission.load(running) == pytest.approx(SERVER_LOAD_TARGET * 3 / 5)
    assert admission.try_admit(running, "j3")
    assert not admission.try_admit(_server("j0", "j1", "j2", "j3"), "j4")  # 3 + 2 = 5 of 5


def test_the_full_line_says_what_filled_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dispatch.admission")
    admission = Admission(4, starting_weight=2.0, clock=Clock())
    assert admission.try_admit(_server(), "j1")
    assert admission.try_admit(_server("j1"), "j2")
    assert not admission.try_admit(_server("j1", "j2"), "j3")
    assert not admission.load(_server("j1", "j2")) < SERVER_LOAD_TARGET
    full = [r.getMessage() for r in caplog.records if "worker full" in r.getMessage()]
    assert len(full) == 1  # once, however many readings see it full
    assert "2 of 4 calls running (starting calls count 2)" in full[0]


def test_second_worst_ignores_one_outlier() -> None:
    assert second_worst([]) == 0.0
    assert second_worst([0.3]) == 0.3
    assert second_worst([0.01, 2.0, 0.02]) == 0.02


async def test_loop_lag_sees_a_blocked_loop() -> None:
    lag = LoopLag()
    lag.start()
    try:
        for _ in range(2):
            await asyncio.sleep(0)  # let the sampler sleep, then block the loop past its wake-up
            time.sleep(0.3)
            await asyncio.sleep(0.15)
        assert lag.lag_s() >= 0.2
    finally:
        lag.stop()


def test_a_launched_call_stops_counting_as_accepted_even_if_never_seen_running() -> None:
    admission = Admission(1, clock=Clock())
    assert admission.try_admit(_server(), "j1")
    admission.launched("j1")  # it ran and ended between two load readings
    assert admission.try_admit(_server(), "j2")


def test_a_measured_capacity_is_read_once_on_first_use() -> None:
    calls: list[int] = []

    def measure() -> int:
        calls.append(1)
        return 0  # a machine that measures nothing still takes one call

    admission = Admission(measure)
    assert calls == [], "measured beside the start-up, not at construction"
    assert admission.capacity == 1
    assert admission.capacity == 1
    assert calls == [1]
