"""Rooms one a second against the headless worker with default settings: how many get agents.

The pattern of LiveKit's ``lk perf agent-load-test`` (its CLI cannot be installed here): a
loopback livekit-server, ``python agents/multi_agent_worker.py dev`` with no
``DISPATCH_WORKER_CAPACITY``, then ``--rooms`` rooms created ``--interval`` seconds apart, each
dispatching the worker's agent name. A room's join time runs from its creation until both agents
are active in it. Run ``python -m bench.room_ramp`` (prints one JSON object); ``--hold S``
keeps the calls S seconds longer, e.g. to attach a profiler to the worker.

``python -m bench`` calls :func:`ramp` (stage ``ramp``) and, through :class:`HeadlessWorker`
and :func:`open_calls`, the worker side of the floor comparison (``bench.floor_stage``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
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
from bench.common import PROJECT_ROOT, tree_cpu_seconds
from tui.core.local_server import LocalServer
from tui.core.worker_host import worker_env

JOIN_TIMEOUT_S = 30.0
CAPACITY_LINE = re.compile(r"worker takes up to (\d+) calls")
"""The line the worker logs once with its capacity (``agents.admission``)."""
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


async def _delete(lkapi: api.LiveKitAPI, rooms: list[str]) -> None:
    for room in rooms:
        with contextlib.suppress(api.TwirpError):
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))


async def _until_worker_takes_jobs(lkapi: api.LiveKitAPI, timeout_s: float = 120.0) -> None:
    """Probe rooms until one gets its agents (the server may skip a fresh worker for a while)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        room, started = await _create(lkapi, "probe")
        try:
            if await _join_time(lkapi, room, started, timeout_s=5.0) is not None:
                return
        finally:
            await _delete(lkapi, [room])
    raise RuntimeError(f"the worker took no job within {timeout_s:.0f} s")


class HeadlessWorker:
    """``python agents/multi_agent_worker.py dev`` with default settings, taking jobs.

    ``async with HeadlessWorker(server, log_path) as worker``: started, and a probe room got its
    agents (the probe's call has ended when the block starts); SIGINT on exit, kill after 15 s.
    ``worker.lkapi`` is a control-plane client for the block's rooms.
    """

    def __init__(self, server: LocalServer, log_path: Path, *, capacity: int | None = None) -> None:
        self._server = server
        self.log_path = log_path
        self._capacity = capacity
        """None: default settings; else ``DISPATCH_WORKER_CAPACITY`` (a fixed count)."""
        self._process: subprocess.Popen[bytes] | None = None
        self._lkapi: api.LiveKitAPI | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("headless worker not started")
        return self._process.pid

    @property
    def lkapi(self) -> api.LiveKitAPI:
        if self._lkapi is None:
            raise RuntimeError("headless worker not started")
        return self._lkapi

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def __aenter__(self) -> HeadlessWorker:
        env = worker_env(self._server)
        env.pop("DISPATCH_WORKER_CAPACITY", None)  # default settings
        if self._capacity is not None:
            env["DISPATCH_WORKER_CAPACITY"] = str(self._capacity)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), "dev"],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = self._server
        self._lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
        try:
            await _until_worker_takes_jobs(self._lkapi)
            await asyncio.sleep(3)  # the probe's call ends
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        lkapi, self._lkapi = self._lkapi, None
        if lkapi is not None:
            await lkapi.aclose()


async def open_calls(
    worker: HeadlessWorker, rooms: int, interval_s: float, hold_s: float = 0.0
) -> dict[str, Any]:
    """Open ``rooms`` rooms ``interval_s`` apart, wait for their agents, hold the calls
    ``hold_s`` seconds (measuring the worker tree's CPU meanwhile), then delete the rooms."""
    lkapi = worker.lkapi
    created: list[str] = []
    waits: list[asyncio.Task[float | None]] = []
    try:
        for index in range(rooms):
            room, started = await _create(lkapi, "ramp")
            created.append(room)
            waits.append(asyncio.create_task(_join_time(lkapi, room, started)))
            if index < rooms - 1:
                await asyncio.sleep(interval_s)
        joins = await asyncio.gather(*waits)
        cpu_before, held_from = tree_cpu_seconds_of(worker.pid), time.monotonic()
        await asyncio.sleep(hold_s)
        held = time.monotonic() - held_from
        cpu_share = (tree_cpu_seconds_of(worker.pid) - cpu_before) / held if hold_s else None
        if cpu_share is not None and cpu_share < 0:
            # a job process of the tree exited in the window and took its CPU time with it
            cpu_share = None
    finally:
        for wait in waits:
            wait.cancel()
        await _delete(lkapi, created)
    joined = [j for j in joins if j is not None]
    return {
        "rooms": rooms,
        "interval_s": interval_s,
        "joined": len(joined),
        "slowest_join_s": round(max(joined), 2) if joined else None,
        "joins_s": [None if j is None else round(j, 2) for j in joins],
        "hold_s": hold_s,
        "worker_cpu_share_while_held": None if cpu_share is None else round(cpu_share, 3),
    }


def tree_cpu_seconds_of(pid: int) -> float:
    """CPU seconds (user + system) of a process and its living children (its job processes)."""
    return tree_cpu_seconds(psutil.Process(pid))


async def ramp(
    server: LocalServer, rooms: int, interval_s: float, log_dir: Path, hold_s: float = 0.0
) -> dict[str, Any]:
    """A fresh headless worker on ``server``; open the rooms, measure their joins; keep the
    calls running ``hold_s`` more seconds (to profile them) before deleting the rooms."""
    async with HeadlessWorker(server, log_dir / "room_ramp_worker.log") as worker:
        load_before = os.getloadavg()
        result = await open_calls(worker, rooms, interval_s, hold_s)
    text = worker.log_text()
    capacity = CAPACITY_LINE.search(text)
    return {
        **result,
        "worker_capacity": int(capacity.group(1)) if capacity else None,
        "worker_full_lines": text.count("worker full"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "worker_log": str(worker.log_path),
    }


async def _ramp_alone(rooms: int, interval_s: float, log_dir: Path, hold_s: float) -> Any:
    async with LocalServer() as server:
        return await ramp(server, rooms, interval_s, log_dir, hold_s)


def main() -> None:
    """``python -m bench.room_ramp [--rooms 10] [--interval 1]``: print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep the calls")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="room_ramp_"))
    result = asyncio.run(_ramp_alone(args.rooms, args.interval, log_dir, args.hold))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
