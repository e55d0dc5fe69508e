"""Admission: a worker takes only the calls it can run in real time and refuses the rest.

livekit-server offers a dispatch to one registered worker at a time; a worker that answers
"not available" (``JobRequest.reject(terminate=False)``) passes it on to the next, and a dispatch
no worker takes stays unassigned. Taking more calls than the machine can run in real time
garbles every call on it, so :class:`Admission` refuses a call when

- the calls running or accepted reach the worker's capacity: ``$DISPATCH_WORKER_CAPACITY`` (a
  plain count), else measured: :func:`calibrated_capacity` (a call's CPU cost against the
  cores, :mod:`agents.machine_capacity`), with a call in its first ``STARTING_S`` counting
  ``STARTING_WEIGHT`` (a burst offered within a second is not all taken), or
- with at least one call running, the worker's event loop falls behind (:class:`LoopLag`): the
  machine is already too busy to serve another call in real time.

A worker with no call always accepts one: a free worker never refuses. The load reported to the
server (:meth:`Admission.load`) is under the server's own target (0.7) exactly while the worker
would accept, so the server weighs workers by spare capacity and skips full ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from agents.machine_capacity import calibration_work, call_core_share, calls_for

logger = logging.getLogger("dispatch.admission")

SERVER_LOAD_TARGET = 0.7
"""livekit-server sends jobs only to workers reporting a load under this (whatever the worker's
own ``load_threshold``): a full worker reports at least this, a worker with room less."""

STARTING_S = 5.0
"""A call counts as starting for this long after it was accepted: joining, the sessions' set-up
and the first turn cost more than a running call, and the loop lag shows it only later."""

STARTING_WEIGHT = 2.0
"""What a starting call counts for against a measured capacity (a running call counts 1), so
that a burst offered at once is not all taken before the lag can rise."""

LAG_SAMPLE_S = 0.1
LAG_WINDOW = 20
"""The loop is sampled every 0.1 s; the lag is judged over the last 2 s."""

DEFAULT_LAG_LIMIT_S = 0.25
"""A loop that stays this late (the second-worst sample of 2 s) has no room for another call:
audio frames are 10-20 ms, and a call's turns wait on its loop."""

ASSIGNMENT_TIMEOUT_S = 15.0
"""An accepted call not launched after this long was never assigned (the server gives up after
7.5 s); it stops counting against the capacity."""


class _Job(Protocol):
    @property
    def id(self) -> str: ...


class _RunningJob(Protocol):
    @property
    def job(self) -> _Job: ...


class _Server(Protocol):
    @property
    def active_jobs(self) -> Sequence[_RunningJob]: ...


def calibrated_capacity(
    *,
    cores: float | None = None,
    work: Callable[[], None] = calibration_work,
    clock: Callable[[], float] = time.perf_counter,
    repeats: int = 300,
) -> int:
    """Calls this machine can run in real time with no other work on it: its cores' budget
    over a call's cost, measured on this machine (:func:`call_core_share`). At least 1.
    ``cores`` is the cores this worker may use (all of the machine's by default)."""
    cores = cores or os.cpu_count() or 1
    return calls_for(cores, call_core_share(work=work, clock=clock, repeats=repeats))


class LoopLag:
    """How late the event loop it runs on wakes up, over the last ``LAG_SAMPLE_S * LAG_WINDOW``.

    ``start()`` on the worker's loop; ``lag_s()`` may be read from any thread (the SDK runs load
    functions in an executor).
    """

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=LAG_WINDOW)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sample the running loop from now on (once; later calls do nothing)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sample(), name="loop-lag")

    def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _sample(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(LAG_SAMPLE_S)
            self._samples.append(max(0.0, time.perf_counter() - start - LAG_SAMPLE_S))

    def lag_s(self) -> float:
        """The second-worst lag of the window (one garbage-collector pause is not a busy loop)."""
        return second_worst(self._samples)


def second_worst(samples: Iterable[float]) -> float:
    """The second-largest sample, or the only one, or 0.0 for none."""
    ordered = sorted(samples, reverse=True)
    if not ordered:
        return 0.0
    return ordered[1] if len(ordered) > 1 else ordered[0]


class Admission:
    """Decides whether a worker takes another call, and the load it reports.

    ``lag`` reads the worker loop's lag in seconds (:meth:`LoopLag.lag_s`); None leaves it out.
    ``starting_weight`` is what a call counts for during its first ``STARTING_S`` (1: a plain
    count of calls).
    """

    def __init__(
        self,
        capacity: int | Callable[[], int],
        *,
        lag: Callable[[], float] | None = None,
        lag_limit_s: float = DEFAULT_LAG_LIMIT_S,
        starting_weight: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(capacity, int) and capacity < 1:
            raise ValueError(f"capacity {capacity} must be at least 1")
        self._capacity: int | None = capacity if isinstance(capacity, int) else None
        self._measure = capacity if callable(capacity) else None
        self._lag = lag
        self._lag_limit_s = lag_limit_s
        self._starting_weight = starting_weight
        self._clock = clock
        self._accepted: dict[str, float] = {}  # job id -> accepted at, until it runs
        self._started: dict[str, float] = {}  # job id -> accepted at, for STARTING_S
        self._lock = threading.Lock()  # load() runs on an executor thread
        self._note_lock = threading.Lock()  # and may note a change with try_admit at once
        self._full_reason: str | None = None
        self._announced = False

    @property
    def capacity(self) -> int:
        """The calls this worker takes at once; a measured one is read on first use (the
        measurement runs beside the worker's start-up, see ``measured_admission``)."""
        if self._capacity is None:
            assert self._measure is not None
            self._capacity = max(1, self._measure())
        return self._capacity

    def _in_use(self, server: _Server) -> tuple[int, float]:
        """Calls running or accepted (assignment in flight), and what they count for: a
        starting call counts ``starting_weight``."""
        running = {info.job.id for info in server.active_jobs}
        now = self._clock()
        with self._lock:
            for job_id, at in list(self._accepted.items()):
                if job_id in running or now - at > ASSIGNMENT_TIMEOUT_S:
                    del self._accepted[job_id]
            for job_id, at in list(self._started.items()):
                if now - at > STARTING_S:
                    del self._started[job_id]
            calls = running | self._accepted.keys()
            starting = len(calls & self._started.keys())
        return len(calls), len(calls) + (self._starting_weight - 1.0) * starting

    def launched(self, job_id: str) -> None:
        """The job runs now: it counts as running (a job may end before a load reading
        sees it running, so this is what stops it counting as accepted)."""
        with self._lock:
            self._accepted.pop(job_id, None)

    def _refusal(self, calls: int, used: float) -> str | None:
        """Why another call would be refused, or None to accept it."""
        if not calls:
            return None  # a free worker never refuses
        if used >= self.capacity:
            detail = f"{calls} of {self.capacity} calls running"
            if used > calls:
                detail += f" (starting calls count {self._starting_weight:g})"
            return detail
        if self._lag is not None:
            lag = self._lag()
            if lag >= self._lag_limit_s:
                return (
                    f"event loop {lag * 1000:.0f} ms late with {calls} calls "
                    f"(limit {self._lag_limit_s * 1000:.0f} ms)"
                )
        return None

    def try_admit(self, server: _Server, job_id: str) -> bool:
        """Count ``job_id`` as taken and return True, or return False when the worker is full.

        Synchronous from check to count, so simultaneous requests cannot overfill the worker.
        """
        reason = self._refusal(*self._in_use(server))
        self._note(reason)
        if reason is not None:
            return False
        with self._lock:
            self._accepted[job_id] = self._started[job_id] = self._clock()
        return True

    def load(self, server: _Server) -> float:
        """The load to report: under ``SERVER_LOAD_TARGET`` while the worker would take another
        call, in proportion to the calls in use; 1.0 when full."""
        if not self._announced:  # the first reading runs once the worker's logging is set up
            self._announced = True
            logger.info("worker takes up to %d calls at once", self.capacity)
        calls, used = self._in_use(server)
        reason = self._refusal(calls, used)
        self._note(reason)
        if reason is not None:
            return 1.0
        return SERVER_LOAD_TARGET * used / self.capacity

    def _note(self, reason: str | None) -> None:
        """Log once when the worker becomes full and once when it has room again."""
        with self._note_lock:
            if reason is not None and self._full_reason is None:
                logger.warning(
                    "worker full, refusing new calls (the server offers them to other workers): "
                    "%s; DISPATCH_WORKER_CAPACITY sets a fixed limit",
                    reason,
                )
            elif reason is None and self._full_reason is not None:
                logger.info("worker has room again: taking new calls")
            self._full_reason = reason
