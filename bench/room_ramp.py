"""Rooms one a second against the headless worker with default settings: how many get agents.

The pattern of LiveKit's ``lk perf agent-load-test`` (its CLI cannot be installed here): a
loopback livekit-server, ``python agents/multi_agent_worker.py dev`` with no
``DISPATCH_WORKER_CAPACITY``, then ``--rooms`` rooms created ``--interval`` seconds apart, each
dispatching the worker's agent name. A room's join time runs from its creation until both agents
are active in it. Run ``python -m bench.room_ramp`` (prints one JSON object); ``--hold S``
keeps the calls S seconds longer, e.g. to attach a profiler to the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from livekit import api

from agents.constants import AGENT_NAME
from bench.common import PROJECT_ROOT
from tui.core.local_server import LocalServer
from tui.core.worker_host import worker_env

JOIN_TIMEOUT_S = 30.0
WORKER_SCRIPT = PROJECT_ROOT / "agents" / "multi_agent_worker.py"


async def _active_agents(lkapi: api.LiveKitAPI, room: str) -> int:
    reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return sum(p.state == api.ParticipantInfo.ACTIVE for p in reply.participants)


async def _create(lkapi: api.LiveKitAPI, prefix: str) -> tuple[str, float]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    await lkapi.room.create_room(
        api.CreateRoomRequest(
            name=name, empty_timeout=30, agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME)]
        )
    )
    return name, started


async def _join_time(
    lkapi: api.LiveKitAPI, room: str, started: float, timeout_s: float = JOIN_TIMEOUT_S
) -> float | None:
    """Seconds from creation until both agents are active, None after ``timeout_s``."""
    while time.monotonic() - started < timeout_s:
        if await _active_agents(lkapi, room) >= 2:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return None


async def _until_worker_takes_jobs(lkapi: api.LiveKitAPI, timeout_s: float = 120.0) -> None:
    """Probe rooms until one gets its agents (the server may skip a fresh worker for a while)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        room, started = await _create(lkapi, "probe")
        try:
            if await _join_time(lkapi, room, started, timeout_s=5.0) is not None:
                return
        finally:
            with contextlib.suppress(api.TwirpError):
                await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
    raise RuntimeError(f"the worker took no job within {timeout_s:.0f} s")


async def ramp(rooms: int, interval_s: float, log_dir: Path, hold_s: float = 0.0) -> dict[str, Any]:
    """Start a server and the headless worker, open the rooms, measure their joins; keep the
    calls running ``hold_s`` more seconds (to profile them) before deleting the rooms."""
    async with LocalServer() as server:
        env = worker_env(server)
        env.pop("DISPATCH_WORKER_CAPACITY", None)  # default settings
        log_path = log_dir / "room_ramp_worker.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), "dev"],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
                await _until_worker_takes_jobs(lkapi)
                await asyncio.sleep(3)  # the probe's call ends
                load_before = os.getloadavg()
                created: list[tuple[str, float]] = []
                waits: list[asyncio.Task[float | None]] = []
                for _ in range(rooms):
                    room, started = await _create(lkapi, "ramp")
                    created.append((room, started))
                    waits.append(asyncio.create_task(_join_time(lkapi, room, started)))
                    await asyncio.sleep(interval_s)
                joins = await asyncio.gather(*waits)
                cpu_before, held_from = _tree_cpu_s(worker.pid), time.monotonic()
                await asyncio.sleep(hold_s)
                held = time.monotonic() - held_from
                cpu_share = (_tree_cpu_s(worker.pid) - cpu_before) / held if hold_s else None
                for room, _ in created:
                    with contextlib.suppress(api.TwirpError):
                        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        finally:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    text = log_path.read_text(errors="replace")
    joined = [j for j in joins if j is not None]
    capacity = [line for line in text.splitlines() if "worker takes up to" in line]
    return {
        "rooms": rooms,
        "interval_s": interval_s,
        "joined": len(joined),
        "slowest_join_s": round(max(joined), 2) if joined else None,
        "joins_s": [None if j is None else round(j, 2) for j in joins],
        "worker_cpu_share_while_held": None if cpu_share is None else round(cpu_share, 3),
        "worker_capacity_line": capacity[0].strip()[-80:] if capacity else "",
        "worker_full_lines": text.count("worker full"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "worker_log": str(log_path),
    }


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its living children."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def main() -> None:
    """``python -m bench.room_ramp [--rooms 10] [--interval 1]``: print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep the calls")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="room_ramp_"))
    result = asyncio.run(ramp(args.rooms, args.interval, log_dir, args.hold))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
