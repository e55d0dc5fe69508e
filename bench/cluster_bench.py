"""Cluster figures for ``make bench``: 20 concurrent rooms on two nodes and two headless workers.

``python -m bench`` (stage ``cluster``) calls :func:`run_cluster_bench`; it starts its own
local cluster (``tui.cluster.launcher.Cluster``: Redis, two livekit-server nodes, two ``start``
workers with the offline voice), so the figures sit beside the single-process ones with the same
scenario. Each room is created through one node and observed through the other, as a
``--no-worker`` dashboard would.

The workers get a capacity that fits the rooms with one call to spare per worker (20 rooms on
two workers: 15, of which a worker takes 11 before the server sends jobs to the other one, see
``tui.cluster.launcher.DEFAULT_WORKER_CAPACITY``), so the figures measure the cluster, not
dispatches dropped for want of a free worker.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from bench.common import BENCH_SCRIPT, Check, bench_scenario, info, summarize
from bench.concurrency import lost_lines
from tui.cluster.launcher import Cluster, calls_per_worker
from tui.cluster.load import ClusterSession, run_conversations


def fitting_capacity(rooms: int, workers: int) -> int:
    """The smallest worker capacity under which ``workers`` workers hold ``rooms`` calls with
    one call to spare each (a worker takes 70% of its capacity before it reports itself full)."""
    wanted = math.ceil(rooms / max(workers, 1)) + 1
    capacity = wanted
    while calls_per_worker(capacity) < wanted:
        capacity += 1
    return capacity


async def run_cluster_bench(
    rooms: int = 20,
    *,
    nodes: int = 2,
    workers: int = 2,
    capacity: int | None = None,
    timeout_s: float = 180.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time to both agents and completion rate for ``rooms`` concurrent rooms on a cluster.

    Returns a JSON-ready dict: ``rooms``, ``nodes``, ``workers``, ``capacity``, ``completed``,
    ``completion_rate``, ``time_to_both_agents_s`` (``summarize`` of the per-room times, from
    the CreateRoom call to both agents' audio published as the observer saw it),
    ``jobs_per_worker`` (worker id -> jobs), ``unassigned`` (dispatches no worker took),
    ``accepted`` (rooms an agent joined), ``lost_lines`` (scripted lines of accepted rooms that
    never reached the observer as a final transcript),
    ``wall_s`` and ``cluster_start_s``.
    """
    say = progress or (lambda _line: None)
    capacity = capacity or fitting_capacity(rooms, workers)
    cluster = Cluster(nodes=nodes, workers=workers, capacity=capacity)
    started = time.monotonic()
    await asyncio.to_thread(cluster.start)
    cluster_start_s = time.monotonic() - started
    say(
        f"  cluster up in {cluster_start_s:.1f} s: {nodes} nodes, {workers} workers of capacity "
        f"{capacity}; {rooms} rooms at once"
    )
    try:
        async with ClusterSession(cluster.urls, cluster.api_key, cluster.api_secret) as session:
            result = await run_conversations(
                session, rooms, scenario=bench_scenario(), timeout_s=timeout_s
            )
    finally:
        await asyncio.to_thread(cluster.stop)
    unassigned = sum(
        1 for rows in result.jobs.values() for row in rows if row.status == "unassigned"
    )
    times = summarize(w.time_to_both_agents_s for w in result.watches)
    # a room no agent joined was not accepted; an accepted one owes every scripted line
    accepted = [w for w in result.watches if w.joined]
    lost = sum(lost_lines(len(BENCH_SCRIPT), len(w.finals)) for w in accepted)
    say(
        f"  {result.completed}/{rooms} completed; both agents p50 {times['p50'] or 0:.2f} s, "
        f"p95 {times['p95'] or 0:.2f} s; jobs per worker "
        f"{sorted(result.jobs_per_worker().values())}; {unassigned} unassigned; "
        f"{lost} lines lost"
    )
    return {
        "rooms": rooms,
        "nodes": nodes,
        "workers": workers,
        "capacity": capacity,
        "completed": result.completed,
        "completion_rate": result.completed / rooms if rooms else 0.0,
        "time_to_both_agents_s": times,
        "jobs_per_worker": result.jobs_per_worker(),
        "unassigned": unassigned,
        "accepted": len(accepted),
        "lost_lines": lost,
        "wall_s": result.wall_s,
        "cluster_start_s": cluster_start_s,
    }


def checks(result: dict[str, Any]) -> list[Check]:
    """Every room completes on the cluster, on both workers; the times are reported."""
    rooms = result["rooms"]
    per_worker = result["jobs_per_worker"]
    return [
        Check(
            f"cluster: {rooms} concurrent calls completed",
            float(result["completed"]),
            f"{rooms}/{rooms}",
            result["completed"] == rooms,
            f"/{rooms}",
        ),
        Check(
            "cluster: workers that ran calls",
            float(len(per_worker)),
            f"{result['workers']}/{result['workers']}",
            len(per_worker) == result["workers"],
            f"/{result['workers']}",
        ),
        info("cluster: both agents p50", result["time_to_both_agents_s"]["p50"], "s"),
        info("cluster: both agents p95", result["time_to_both_agents_s"]["p95"], "s"),
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run_cluster_bench(progress=print)), indent=2, default=str))
