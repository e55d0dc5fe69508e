"""Issue 18: time from the create-room request to every agent's audio, for 2, 3 and 4 agents.

The generalisation of ``bench.time_to_agents`` (the ``multi`` set-up) to scenarios with more
agents: ``scenarios/hdx-2478.json`` (2), ``scenarios/kdc-3107.json`` (3) and
``bench/four_agents.json`` (4), on the dashboard's worker hosted in its own process. Rooms run
one at a time, the agent counts interleaved room by room so that load from other work on the
machine hits each alike; each room is observed by the dashboard's hidden observer and deleted
once every agent's audio track was subscribed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livekit import api

from agents.constants import AGENT_NAME
from agents.scenario import Scenario, load_scenario
from bench.common import PROJECT_ROOT, Check, info, summarize
from bench.probe import RoomProbe
from bench.time_to_agents import SETTLE_S, create_room, delete_room
from tui.core.local_server import LocalServer
from tui.core.worker_host import WorkerHost

SCENARIOS: dict[int, Path] = {
    2: PROJECT_ROOT / "scenarios" / "hdx-2478.json",
    3: PROJECT_ROOT / "scenarios" / "kdc-3107.json",
    4: PROJECT_ROOT / "bench" / "four_agents.json",
}
READY_TIMEOUT_S = 15.0


async def time_room(
    server: LocalServer, lkapi: api.LiveKitAPI, host: WorkerHost, scenario: Scenario
) -> float | None:
    """Create one room, return seconds to every agent's audio subscribed (None: timed out)."""
    name = f"bench_agents{len(scenario.agents)}_{secrets.token_hex(4)}"
    identities = [persona.identity for persona in scenario.agents]
    t0 = time.monotonic()
    await create_room(lkapi, name, scenario, (AGENT_NAME,))
    try:
        probe = RoomProbe(
            server.url,
            server.api_key,
            server.api_secret,
            name,
            t0=t0,
            tim=identities[0],
            chris=identities[1],
            agents=identities,
        )
        async with probe:
            await probe.wait_all_subscribed(READY_TIMEOUT_S)
    finally:
        await delete_room(lkapi, name)
    await host.wait_job_finished(name, 15.0)  # one job's teardown must not overlap the next
    await asyncio.sleep(SETTLE_S)
    return probe.all_subscribed_s


async def run(
    server: LocalServer,
    host: WorkerHost,
    rooms: int,
    *,
    warmup: int = 1,
    counts: tuple[int, ...] = (2, 3, 4),
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``rooms`` rooms per agent count (after ``warmup`` untimed ones each), interleaved."""
    scenarios = {count: load_scenario(SCENARIOS[count]) for count in counts}
    times: dict[int, list[float | None]] = {count: [] for count in counts}
    lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    try:
        for index in range(warmup + rooms):
            for count in counts:
                took = await time_room(server, lkapi, host, scenarios[count])
                if index >= warmup:
                    times[count].append(took)
                progress(
                    f"  {count} agents room {index + 1 - warmup:>2}"
                    f"{' (warm-up)' if index < warmup else ''}: all subscribed "
                    + ("timeout" if took is None else f"{took * 1000:.0f} ms")
                )
    finally:
        await lkapi.aclose()
    return {
        "rooms": rooms,
        "agents": {
            str(count): {
                "scenario": str(SCENARIOS[count].relative_to(PROJECT_ROOT)),
                "failed": sum(1 for t in times[count] if t is None),
                "all_subscribed_s": summarize(times[count]),
                "runs_s": times[count],
            }
            for count in counts
        },
    }


def checks(result: dict[str, Any]) -> list[Check]:
    """p50 and p95 per agent count (issue 18 sets no target: reported side by side)."""
    found: list[Check] = []
    rooms = result["rooms"]
    for count, data in result["agents"].items():
        summary = data["all_subscribed_s"]
        label = f"{count} agents: create-room to all agents' audio"
        found.append(
            Check(
                f"{count} agents: rooms with every agent's audio",
                float(rooms - data["failed"]),
                f"{rooms}/{rooms}",
                data["failed"] == 0,
                f"/{rooms}",
            )
        )
        found.append(info(f"{label} p50", summary["p50"], "s"))
        found.append(info(f"{label} p95", summary["p95"], "s"))
    return found
