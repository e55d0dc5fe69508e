"""Cluster figures for ``make bench``: 20 concurrent rooms on two nodes and two headless workers.

``python -m bench`` calls :func:`run_cluster_bench`; it starts its own local cluster
(``tui.cluster.Cluster``: Redis, two livekit-server nodes, two ``start`` workers with the
offline voice), so the figures sit beside the single-process ones with the same scenario. Each
room is created through one node and observed through the other, as a ``--no-worker`` dashboard
would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import bench_scenario, summarize
from tui.cluster import Cluster
from tui.cluster_load import ClusterSession, run_conversations


async def run_cluster_bench(
    rooms: int = 20, *, nodes: int = 2, workers: int = 2, timeout_s: float = 180.0
) -> dict[str, Any]:
    """Time to both agents and completion rate for ``rooms`` concurrent rooms on a cluster.

    Returns a JSON-ready dict: ``rooms``, ``nodes``, ``workers``, ``completed``,
    ``completion_rate``, ``time_to_both_agents_s`` (``summarize`` of the per-room times, from
    the CreateRoom call to both agents' audio published as the observer saw it),
    ``jobs_per_worker`` (worker id -> jobs), ``unassigned`` (dispatches no worker took),
    ``wall_s`` and ``cluster_start_s``.
    """
    cluster = Cluster(nodes=nodes, workers=workers)
    started = time.monotonic()
    await asyncio.to_thread(cluster.start)
    cluster_start_s = time.monotonic() - started
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
    return {
        "rooms": rooms,
        "nodes": nodes,
        "workers": workers,
        "completed": result.completed,
        "completion_rate": result.completed / rooms if rooms else 0.0,
        "time_to_both_agents_s": summarize(w.time_to_both_agents_s for w in result.watches),
        "jobs_per_worker": result.jobs_per_worker(),
        "unassigned": unassigned,
        "wall_s": result.wall_s,
        "cluster_start_s": cluster_start_s,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run_cluster_bench()), indent=2, default=str))
