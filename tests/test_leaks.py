"""Nothing accumulates: 50 rooms created (with their dispatches) and deleted in a row while the
in-process worker runs, then the backend closes; and the headless worker stops on SIGTERM
during a conversation, quickly and without leaving a child process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from helpers import job_threads
from livekit import api
from reliability_support import (
    HDX,
    PROJECT_ROOT,
    Recorder,
    backend_for,
    new_threads,
    poll,
    wait_until_jobs_dispatched,
)

from tui.core.events import TrackUpdate
from tui.core.local_server import LocalServer, ServerConfig

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 60.0
"""Rooms, participants and jobs gone after the last deletion. A join the deletion cut short is
retried by the rtc SDK (up to 3 attempts, each waiting for its peer connection) before the job
can see the room is gone, and a job that stayed in a resurrected room watches it for 11 s
(see ``agents.room_guard.RoomGuard.joined_a_recreated_room``)."""
ROOMS = 50
ROOM_LIFETIMES_S = (0.0, 0.1, 0.2, 0.3, 0.4)
FD_MARGIN = 8
"""Descriptors the process may legitimately hold on to (pooled connections, epoll, eventfds)."""


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    """A server of our own, so "no rooms left" is not disturbed by other tests' rooms.

    A job that joins a room deleted a moment earlier re-creates it (servers create rooms on
    join), or resurrects it when the join races the deletion; the job then leaves and deletes
    it (``agents.room_guard.RoomGuard.joined_a_recreated_room``). The short departure timeout
    is a safety net: a re-created room the job could not delete closes a second after the job
    left it.
    """
    generated = ServerConfig.generate()
    local = LocalServer(dataclasses.replace(generated, departure_timeout_s=1))
    await local.astart()
    try:
        yield local
    finally:
        await local.astop()


async def server_state(server: LocalServer) -> tuple[int, int]:
    """(rooms, participants) on the server."""
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        rooms = (await lkapi.room.list_rooms(api.ListRoomsRequest())).rooms
        participants = 0
        for room in rooms:
            reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room.name))
            participants += len(reply.participants)
    return len(rooms), participants


def our_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_fifty_rooms_created_and_deleted_leave_nothing_behind(server: LocalServer) -> None:
    process = psutil.Process()
    threads_at_start = set(threading.enumerate())
    tasks_at_start = our_tasks()
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    try:
        await backend.start()
        assert backend.worker is not None
        assert (await backend.worker.wait_registered(TIMEOUT_S)).state == "registered"
        await wait_until_jobs_dispatched(server, TIMEOUT_S)
        scenario = HDX
        # One round first, so one-time set-up (lazy imports, SDK threads, pooled connections)
        # is not mistaken for a leak.
        created = await backend.create_room(scenario)
        await backend.observe(created.name)
        # published audio is replayed to a late observer, unlike a session event
        await recorder.wait_for(
            lambda: len(published_agents(recorder, created.name)) == 2 or None,
            TIMEOUT_S,
            "the warm-up call to start",
        )
        await backend.observe(None)
        await backend.delete_room(created.name)
        await poll(lambda: _settled(server), TIMEOUT_S, "the warm-up room and its job to be gone")
        threads_before = set(threading.enumerate())
        tasks_before = our_tasks()
        fds_before = process.num_fds()

        names: set[str] = set()
        for index in range(ROOMS):
            created = await backend.create_room(scenario)
            names.add(created.name)
            # Rooms live 0 to 0.4 s: deleted before the dispatch, while the job connects, and
            # after the agents joined. Each moment once failed differently (see RoomGuard's
            # connect and joined_a_recreated_room in agents/room_guard.py).
            await asyncio.sleep(ROOM_LIFETIMES_S[index % len(ROOM_LIFETIMES_S)])
            await backend.delete_room(created.name)
        assert len(names) == ROOMS

        deleted_at = time.monotonic()
        try:
            await poll(
                lambda: _settled(server), SETTLE_TIMEOUT_S, "no rooms, participants or jobs left"
            )
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; last seen: {_last_seen}; server log {server.log_path}"
            ) from None
        settled_s = time.monotonic() - deleted_at
        leftover_tasks = await poll(
            lambda: _nothing_new(our_tasks() - tasks_before), TIMEOUT_S, "tasks to finish"
        )
        assert leftover_tasks == "none"
        assert not new_threads(threads_before), new_threads(threads_before)
        fds_after = await poll(
            lambda: _at_most(process.num_fds(), fds_before + FD_MARGIN),
            TIMEOUT_S,
            f"fds back near {fds_before}",
        )
        jobs = {s.room for s in recorder.snapshot()[2] if s.room in names}
        print(
            f"\nfds before {fds_before}, after {ROOMS} rooms {fds_after}; "
            f"{len(jobs)} rooms saw their agents start; settled {settled_s:.1f}s after the last "
            f"deletion; server log {server.log_path}"
        )
    finally:
        await backend.aclose()
    assert not new_threads(threads_at_start), new_threads(threads_at_start)
    extra = {t.get_name() for t in our_tasks() - tasks_at_start}
    assert not extra, f"tasks left after aclose: {extra}"


async def _settled(server: LocalServer) -> str | None:
    global _last_seen
    state = await server_state(server)
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        rooms = (await lkapi.room.list_rooms(api.ListRoomsRequest())).rooms
    _last_seen = (
        f"{len(job_threads())} job threads, (rooms, participants) = {state}, "
        f"rooms {[(r.name, r.sid, bool(r.metadata)) for r in rooms][:3]}"
    )
    if job_threads():
        return None
    return "settled" if state == (0, 0) else None


_last_seen = ""


async def _nothing_new(tasks: set[asyncio.Task[object]]) -> str | None:
    return "none" if not tasks else None


async def _at_most(value: int, limit: int) -> int | None:
    return value if value <= limit else None


async def test_headless_worker_exits_quickly_on_sigterm_during_a_call(
    livekit_server: LocalServer, tmp_path: Path
) -> None:
    """``python agents/multi_agent_worker.py start`` gets SIGTERM while Tim and Chris talk:
    it exits within 5 s (the drain is bounded) and leaves no child process."""
    log_path = tmp_path / "worker.log"
    env = dict(
        os.environ,
        LIVEKIT_URL=livekit_server.url,
        LIVEKIT_API_KEY=livekit_server.api_key,
        LIVEKIT_API_SECRET=livekit_server.api_secret,
        DISPATCH_VOICE="offline",
    )
    env.pop("DISPATCH_DRAIN_TIMEOUT", None)  # the default is what is tested
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "agents" / "multi_agent_worker.py"), "start"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    worker = psutil.Process(child.pid)
    children: list[psutil.Process] = []
    try:
        await poll(
            lambda: _log_has(log_path, "registered worker"), TIMEOUT_S, "the worker to register"
        )
        async with api.LiveKitAPI(
            livekit_server.url, livekit_server.api_key, livekit_server.api_secret
        ) as lkapi:
            from agents.constants import AGENT_NAME

            metadata = HDX.read_text(encoding="utf-8")
            room = f"conv_sigterm_{os.getpid()}_{int(time.time())}"
            await lkapi.room.create_room(
                api.CreateRoomRequest(
                    name=room,
                    metadata=metadata,
                    agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME, metadata=metadata)],
                )
            )
            try:
                await poll(lambda: _log_has(log_path, '"Tim: '), TIMEOUT_S, "the call to start")
                children = worker.children(recursive=True)
                assert children, "start runs jobs in child processes"
                sent_at = time.monotonic()
                child.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(child.wait, 10)
                took = time.monotonic() - sent_at
            finally:
                await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        assert took < 5.0, f"the worker took {took:.1f}s to exit"
        assert code == 0, log_path.read_text(errors="replace")[-2000:]
        alive = await poll(lambda: _all_gone(children), 5.0, "the worker's child processes to exit")
        assert alive == "gone"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for process in children:
            if process.is_running():
                process.kill()


async def _log_has(path: Path, text: str) -> bool | None:
    return True if text in path.read_text(errors="replace") else None


async def _all_gone(processes: list[psutil.Process]) -> str | None:
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                return None
        except psutil.NoSuchProcess:
            continue
    return "gone"


def published_agents(recorder: Recorder, room: str) -> set[str]:
    """Identities whose audio track the backend's observer saw published in ``room``."""
    return {
        e.identity
        for e in recorder.snapshot()[0]
        if isinstance(e, TrackUpdate) and e.room == room and e.kind == "audio"
    }
