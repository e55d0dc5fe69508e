"""Issue 15: a call's worker CPU beside the floor, and rooms ramped against default settings.

Stage ``floor``: the headless worker (``python agents/multi_agent_worker.py dev``, told to
take every call: a cost, not admission; its job processes included) runs 1 and then 10 calls at
once of the default scenario; once every room's agents joined, its process tree's CPU is read
over ``seconds`` mid-call. Then :func:`bench.floor.floor_cpu` pushes the same calls' audio
through bare ``livekit.rtc`` publishers (two per call, alternating turns, real time) on the same
server, over as long. The ratio of the two is the worker's cost over the floor (target <= 2x).

Stage ``ramp``: :func:`bench.room_ramp.ramp`, 10 rooms one a second against a fresh headless
worker with default settings (``lk perf agent-load-test``'s pattern): rooms whose agents joined,
and the slowest join.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import Check, at_most, info
from bench.floor import floor_cpu
from bench.room_ramp import HeadlessWorker, open_calls, ramp
from tui.core.local_server import LocalServer

CALL_END_S = 4.0
"""After the rooms are deleted, the worker's jobs end before the next level starts."""
FLOOR_RATIO_TARGET = 2.0
JOIN_TARGET_S = 2.0


def ratio(worker: float | None, floor: float | None) -> float | None:
    """Worker CPU over the floor's; None when either is missing or the floor is zero."""
    if worker is None or not floor:
        return None
    return worker / floor


async def run_floor(
    server: LocalServer,
    log_dir: Path,
    levels: Sequence[int] = (1, 10),
    seconds: float = 8.0,
    *,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Worker CPU and floor CPU (shares of a core) for each number of calls in ``levels``."""
    measured: list[dict[str, Any]] = []
    # a cost per call, not admission (the ramp measures that): the worker takes every call
    capacity = max(levels, default=1)
    async with HeadlessWorker(server, log_dir / "floor_worker.log", capacity=capacity) as worker:
        for calls in levels:
            held = await open_calls(worker, calls, 0.0, hold_s=seconds)
            measured.append(held)
            await asyncio.sleep(CALL_END_S)
    rows: list[dict[str, Any]] = []
    for held in measured:
        # the floor for the calls that ran: a refused room cost the worker nothing
        calls = held["joined"]
        floor = await floor_cpu(server, calls, seconds) if calls else None
        share = floor["floor_cpu_share"] if floor else None
        worker_share = held["worker_cpu_share_while_held"]
        row = {
            "calls": held["rooms"],
            "joined": calls,
            "seconds": seconds,
            "worker_cpu_percent_of_core": None if worker_share is None else 100 * worker_share,
            "floor_cpu_percent_of_core": None if share is None else 100 * share,
            "ratio": ratio(worker_share, share),
            "worker_joins_s": held["joins_s"],
        }
        rows.append(row)
        progress(
            f"  {row['calls']:>2} calls ({calls} joined): worker "
            f"{_pct(row['worker_cpu_percent_of_core'])}, floor "
            f"{_pct(row['floor_cpu_percent_of_core'])} of a core, ratio "
            + ("n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x")
        )
    return {"levels": rows, "worker_log": str(log_dir / "floor_worker.log")}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


async def run_ramp(
    server: LocalServer,
    log_dir: Path,
    rooms: int = 10,
    interval_s: float = 1.0,
    *,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``rooms`` rooms ``interval_s`` apart against a fresh headless worker."""
    result = await ramp(server, rooms, interval_s, log_dir)
    slowest = result["slowest_join_s"]
    progress(
        f"  {result['joined']}/{rooms} rooms got their agents, slowest join "
        + ("n/a" if slowest is None else f"{slowest:.2f} s")
        + f"; {result['worker_full_lines']} 'worker full' lines, worker capacity "
        f"{result['worker_capacity']}"
    )
    return result


def floor_checks(result: dict[str, Any]) -> list[Check]:
    """Per level: worker CPU <= 2x the floor measured in the same run."""
    found: list[Check] = []
    for row in result["levels"]:
        calls = row["calls"]
        what = "one call" if calls == 1 else f"{calls} calls"
        label = (
            f"worker CPU for {what}: {_pct(row['worker_cpu_percent_of_core'])} of a core, "
            f"floor {_pct(row['floor_cpu_percent_of_core'])}, ratio"
        )
        if row["joined"] != calls:
            label += f" ({row['joined']} of {calls} joined)"
        found.append(at_most(label, row["ratio"], FLOOR_RATIO_TARGET, "x", "<= 2x the floor"))
    return found


def ramp_checks(result: dict[str, Any]) -> list[Check]:
    """Every ramped room gets its agents, the slowest within 2 s."""
    rooms = result["rooms"]
    what = f"{rooms} rooms {result['interval_s']:g} s apart, default settings"
    return [
        Check(
            f"{what}: rooms whose agents joined",
            float(result["joined"]),
            f"{rooms}/{rooms}",
            result["joined"] == rooms,
            f"/{rooms}",
            why=(
                f"the worker took its measured capacity ({result.get('worker_capacity')} calls) "
                f"and refused the rest visibly ({result['worker_full_lines']} 'worker full' "
                "lines); calls longer than the ramp overlap, and each costs about the floor's "
                "share of a core"
            ),
        ),
        at_most(f"{what}: slowest join", result["slowest_join_s"], JOIN_TARGET_S, "s", "<= 2 s"),
        info(f"{what}: 'worker full' log lines", float(result["worker_full_lines"]), ""),
    ]
