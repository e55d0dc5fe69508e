"""How many calls this machine runs in real time: a call's CPU cost against the CPU available.

A call costs a worker about a quarter of a core on a 2-core AMD EPYC (27 % measured by the
bench's concurrency stage), 15 % on a 2-core Xeon whose cores run :func:`calibration_work` as
fast: the micro-benchmark catches a slower core, not everything a call costs, so the cost
assumed is the costlier machine's, scaled by the core's speed. Calls then fit in
``CORE_BUDGET`` of the cores (room for job start-up and the server): 2 cores x 0.7 / 0.25 = 5.

Other work on the machine takes cores too: :class:`MachineShare` reads the load average, takes
out the worker's own CPU use, and gives the share of the cores the worker can count on.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

CALL_CORE_SHARE = 0.25
"""A call's CPU on a core running :func:`calibration_work` in ``REFERENCE_CALIBRATION_S``
(27 % of a core on the 2-core EPYC, 15 % on the 2-core Xeon: the costlier, rounded)."""

REFERENCE_CALIBRATION_S = 0.00094
"""What :func:`calibration_work` takes on one core of the reference machines (best of 60: a
1 ms slice fits between other processes' turns, so a busy machine measures about the same)."""

CORE_BUDGET = 0.7
"""Share of the cores calls may use: the rest absorbs job start-up, the server and bursts."""

SHARE_SAMPLE_S = 1.0
"""The worker's own CPU rate is measured over at least this long."""


def calibration_work() -> None:
    """A fixed slice of the work a call does in Python: frames of int16 samples through a
    gain and a peak, in plain loops (the GIL-bound part of a call)."""
    frame = list(range(-240, 240))
    for _ in range(50):
        peak = 0
        for sample in frame:
            scaled = (sample * 3) >> 2
            if scaled > peak:
                peak = scaled


def call_core_share(
    *,
    work: Callable[[], None] = calibration_work,
    clock: Callable[[], float] = time.perf_counter,
    repeats: int = 60,
) -> float:
    """The cores one call costs here: :data:`CALL_CORE_SHARE` scaled by how much slower than
    the reference one core does :func:`calibration_work` (best of ``repeats``)."""
    best = math.inf
    for _ in range(repeats):
        start = clock()
        work()
        best = min(best, clock() - start)
    return CALL_CORE_SHARE * max(best, 1e-9) / REFERENCE_CALIBRATION_S


def calls_for(cores: float, call_share: float) -> int:
    """Calls that fit in ``CORE_BUDGET`` of ``cores`` at ``call_share`` cores each; at least 1."""
    return max(1, math.floor(cores * CORE_BUDGET / call_share + 1e-9))


class MachineShare:
    """The share of the machine's cores the worker can count on now, from 0 to 1.

    Other processes' demand is the 1-minute load average minus the worker's own CPU rate (the
    load average counts the worker's runnable threads too). With ``others`` cores of demand on
    ``cores`` cores, a fair scheduler leaves the worker about ``cores / (cores + others)`` of
    them: a CPU burner on a 2-core machine halves what a worker gets, whatever the idle time
    says (a burner takes every idle cycle). Safe to call from any thread.
    """

    def __init__(
        self,
        cores: int | None = None,
        *,
        loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg,
        cpu_time: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cores = cores or os.cpu_count() or 1
        self._loadavg = loadavg
        self._cpu_time = cpu_time
        self._clock = clock
        self._last = (clock(), cpu_time())
        self._own_rate = 0.0

    def others(self) -> float:
        """Cores of demand from other processes (load average minus the worker's CPU rate)."""
        now, cpu = self._clock(), self._cpu_time()
        last_at, last_cpu = self._last
        if now - last_at >= SHARE_SAMPLE_S:
            self._own_rate = max(0.0, (cpu - last_cpu) / (now - last_at))
            self._last = (now, cpu)
        return max(0.0, self._loadavg()[0] - self._own_rate)

    def fraction(self) -> float:
        """The share of the cores left to the worker by other processes' demand."""
        return self.cores / (self.cores + self.others())
