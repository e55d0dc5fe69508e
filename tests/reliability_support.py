"""Helpers shared by the reliability and security tests: recording sinks, polling, resources.

Nothing here sleeps for synchronisation: waits poll a condition and fail at a deadline, all
through ``helpers.eventually`` (so ``DISPATCH_TEST_TIMEOUT_SCALE`` stretches them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from helpers import PROJECT, eventually, scaled
from livekit import api
from livekit.agents import AgentServer, JobExecutorType

from agents.constants import AGENT_NAME
from agents.multi_agent_worker import build_server
from tui.core.backend import Backend, BackendSinks
from tui.core.events import (
    DOMAIN_EVENT_TYPES,
    DomainEvent,
    ObserverStatus,
    SessionEvent,
    WatchEvent,
)
from tui.core.infra_events import (
    ServerStatus,
    ServerStatusChanged,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.local_server import LocalServer
from tui.core.settings import DashboardOptions, LiveKitSettings

T = TypeVar("T")

PROJECT_ROOT = PROJECT  # the name the reliability tests import
HDX = PROJECT / "scenarios" / "hdx-2478.json"
TIM, CHRIS = "dispatcher-tim", "driver-chris"

# Threads that are not leaks: the default executor's pooled workers (asyncio.to_thread),
# "Dummy-N" objects Python creates for native FFI threads that once logged, and the agents
# framework's process-wide CPU monitor (a daemon singleton started by the first worker).
_POOLED_THREAD_PREFIXES = ("asyncio_", "Dummy-", "worker_cpu_load_monitor", "ThreadPoolExecutor")


@dataclass
class Recorder:
    """Every sink of a Backend, recorded thread-safely; waits wake on each report."""

    loop: asyncio.AbstractEventLoop
    domain: list[DomainEvent] = field(default_factory=list)
    workers: list[WorkerStatus] = field(default_factory=list)
    servers: list[ServerStatus] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)
    on_secrets: Callable[[list[str]], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _add(self, target: list[Any], item: Any) -> None:
        with self._lock:
            target.append(item)
        # Sinks run on job threads and native threads too: wake the test's loop safely.
        self.loop.call_soon_threadsafe(self._changed.set)

    def _secrets(self, values: list[str]) -> None:
        self._add(self.secret_values, values)
        if self.on_secrets is not None:
            self.on_secrets(values)

    def _event(self, event: WatchEvent) -> None:
        if isinstance(event, WorkerStatusChanged):
            self._add(self.workers, event.status)
        elif isinstance(event, ServerStatusChanged):
            self._add(self.servers, event.status)
        elif isinstance(event, DOMAIN_EVENT_TYPES):
            self._add(self.domain, event)

    def sinks(self) -> BackendSinks:
        return BackendSinks(event=self._event, secrets=self._secrets)

    def snapshot(self) -> tuple[list[DomainEvent], list[WorkerStatus], list[SessionEvent]]:
        """Domain events, worker statuses, and the session events among the domain events."""
        with self._lock:
            domain = list(self.domain)
            return domain, list(self.workers), [e for e in domain if isinstance(e, SessionEvent)]

    async def wait_for(self, find: Callable[[], T | None], timeout_s: float, what: str) -> T:
        """The first non-None ``find()`` within ``timeout_s``, or AssertionError."""

        def boxed() -> tuple[T] | None:
            found = find()
            return None if found is None else (found,)

        return (await eventually(boxed, timeout_s, what))[0]

    # -- common queries

    def observer_states(self, room: str) -> list[str]:
        events, _, _ = self.snapshot()
        return [e.state for e in events if isinstance(e, ObserverStatus) and e.room == room]

    def session_events(self, room: str, kind: str) -> list[SessionEvent]:
        _, _, sessions = self.snapshot()
        return [s for s in sessions if s.room == room and s.kind == kind]

    def registered_ids(self) -> list[str]:
        _, workers, _ = self.snapshot()
        return [w.worker_id for w in workers if w.state == "registered"]


def backend_for(server: LocalServer, recorder: Recorder, *, worker: bool = True) -> Backend:
    """A Backend on ``server`` with the in-process worker (offline voice) unless told not to."""
    settings = LiveKitSettings(server.url, server.api_key, server.api_secret, "test")
    options = DashboardOptions(
        settings=settings, scenario_dirs=(), no_worker=not worker, voice="offline"
    )
    return Backend(options, recorder.sinks())


def write_scenario(path: Path, lines: Iterable[str], **overrides: Any) -> Path:
    """A short scripted scenario file (alternating speakers, the dispatcher first)."""
    script = [
        {"speaker": "dispatcher" if index % 2 == 0 else "driver", "text": text}
        for index, text in enumerate(lines)
    ]
    data: dict[str, Any] = {
        "load_id": "REL-1",
        "pickup": {"location": "Fresno, CA", "time": "06:00"},
        "delivery": {"location": "Denver, CO", "time": "Thu 08:00"},
        "situation": "A short call for the reliability tests.",
        "max_turns": max(2, len(script)),
        "script": script,
    }
    data.update(overrides)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def new_threads(before: Iterable[threading.Thread]) -> list[str]:
    """Live threads not in ``before``, minus pooled/process-wide ones that are not leaks."""
    known = set(before)
    return sorted(
        t.name
        for t in threading.enumerate()
        if t not in known and t.is_alive() and not t.name.startswith(_POOLED_THREAD_PREFIXES)
    )


async def poll(check: Callable[[], Awaitable[T | None]], timeout_s: float, what: str) -> T:
    """Re-run an async check until it returns non-None, or AssertionError.

    For state that nothing reports (server room lists, threads ending, fds closing).
    """

    async def boxed() -> tuple[T] | None:
        found = await check()
        return None if found is None else (found,)

    return (await eventually(boxed, timeout_s, what))[0]


PROBE_JOB_WAIT_S = 3.0
"""How long a probe room waits for its agents: both join in about 0.5 s."""


async def wait_until_jobs_dispatched(
    server: LocalServer, timeout_s: float, agent_name: str = AGENT_NAME
) -> None:
    """Return once the server hands ``agent_name`` jobs to a worker (call after registration).

    livekit-server 1.13.5 answers a worker's registration before it adds the worker and
    before it clears its dispatcher's cache of agent names (kept up to a minute, filled by any
    earlier dispatch). A room created in that window never gets a job: the server logs "not
    dispatching agent job since no worker is available" and does not retry. So probe with
    throwaway rooms until both agents of a job are connected in one. Only then is the probe
    deleted: a join the deletion cuts short is retried by the rtc SDK for many seconds,
    keeping the job (and its thread) alive after the test.
    """
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:

        async def connected(room: str, *, any_state: bool = False) -> bool | None:
            """Both agents connected, or (``any_state``) anyone joining at all."""
            reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            if any_state:
                return True if reply.participants else None
            active = [p for p in reply.participants if p.state == api.ParticipantInfo.ACTIVE]
            return True if len(active) >= 2 else None

        async def probe() -> bool:
            """One throwaway room: True once a job's agents joined it."""
            room = f"probe_{uuid.uuid4().hex[:8]}"
            await lkapi.room.create_room(
                api.CreateRoomRequest(
                    name=room,
                    empty_timeout=30,
                    agents=[api.RoomAgentDispatch(agent_name=agent_name)],
                )
            )
            try:
                both = functools.partial(connected, room)
                try:
                    await poll(both, PROBE_JOB_WAIT_S, f"the agents to join {room}")
                    return True
                except AssertionError:
                    if not await connected(room, any_state=True):
                        return False
                # a job, only slow: let its other agent finish joining
                await poll(both, timeout_s, f"the agents in {room}")
                return True
            finally:
                await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))

        await eventually(probe, timeout_s, f"a worker to take {agent_name!r} jobs", interval_s=0)


@contextlib.asynccontextmanager
async def thread_worker(server: LocalServer) -> AsyncIterator[AgentServer]:
    """The multi-agent worker (offline voice, jobs on threads of this process) on ``server``,
    registered and taking jobs, closed on exit."""
    worker = build_server(
        voice="offline",
        ws_url=server.url,
        api_key=server.api_key,
        api_secret=server.api_secret,
        executor=JobExecutorType.THREAD,
    )
    registered = asyncio.Event()
    worker.on("worker_registered", lambda *_: registered.set())
    run_task = asyncio.create_task(worker.run(devmode=True))
    try:
        await asyncio.wait_for(registered.wait(), scaled(30))
        await wait_until_jobs_dispatched(server, 60)
        yield worker
    finally:
        await worker.aclose()
        await asyncio.wait_for(run_task, scaled(30))
