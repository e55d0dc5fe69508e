"""How many calls this machine runs in real time: a call's CPU cost against the CPU available.

A call costs a worker about a quarter of a core on a 2-core AMD EPYC (27 % measured by the
bench's concurrency stage), 15 % on a 2-core Xeon whose cores run :func:`calibration_work` as
fast: the micro-benchmark catches a slower core, not everything a call costs, so the cost
assumed is the costlier machine's, scaled by the core's speed. Calls then fit in
``CORE_BUDGET`` of the cores (room for job start-up and the server): 2 cores x 0.7 / 0.25 = 5.
The timing is the best of 300 slices of about 1.5 ms: a window of half a second, so other
processes' turns barely move it (the best of 60, a 90 ms window, gave 3 to 6 calls on this
2-core machine at load 2-8; the best of 300 gave 5 four times in four, at load up to 50).
"""

from __future__ import annotations

import math
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
    repeats: int = 300,
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
