"""Issue 15: from launching the dashboard's worker to "worker registered", p50 of 5 launches.

Each launch starts ``agents.worker_host`` (the dashboard's in-process worker, built by
``build_server`` exactly as the dashboard builds it, alone in a fresh Python process) and times
it from the spawn until the worker's ``worker_registered`` event: livekit-server answered its
registration, so the server sees the worker and can dispatch to it. The launches run one after
the other, each worker stopped before the next starts (two with one agent name would split
dispatches).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Check, at_most, summarize
from tui.core.local_server import LocalServer
from tui.core.worker_host import WorkerHost

TARGET_S = 2.0


async def run(
    server: LocalServer,
    log_dir: Path,
    launches: int = 5,
    *,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time ``launches`` worker launches to registration."""
    times: list[float] = []
    for index in range(launches):
        started = time.monotonic()
        async with WorkerHost(server, log_dir, f"worker_host_launch_{index}") as host:
            took = time.monotonic() - started
            times.append(took)
            progress(
                f"  launch {index + 1}: registered after {took * 1000:.0f} ms ({host.worker_id})"
            )
    return {"launches": launches, "registered_s": summarize(times), "runs_s": times}


def checks(result: dict[str, Any]) -> list[Check]:
    """p50 of the launches within 2 s."""
    return [
        at_most(
            f"launch to 'worker registered', p50 of {result['launches']}",
            result["registered_s"]["p50"],
            TARGET_S,
            "s",
            "<= 2 s",
        )
    ]
