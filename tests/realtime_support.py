"""Helpers of the realtime end-to-end tests: a realtime worker pointed at the stand-in, a call
watched the way the dashboard watches it (``tests/call_watch.py``), doctor joining before the
agents, and leak checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Final

import psutil
import pytest
from call_watch import CallWatch
from helpers import eventually, job_threads
from livekit import api
from realtime_faults import Fault
from realtime_standin import RealtimeStandIn
from reliability_support import new_threads, poll, wait_until_jobs_dispatched

from agents.constants import AGENT_NAME
from agents.multi_agent_worker import build_server
from agents.scenario import Scenario, parse_scenario
from tui.commands.doctor import DoctorResult, diagnose
from tui.core.infra_events import VoiceConfigured, WorkerStatusChanged
from tui.core.local_server import LocalServer
from tui.core.room_model import RoomModel
from tui.core.settings import LiveKitSettings
from tui.core.worker_runner import InProcessWorker

TIM, CHRIS = "dispatcher-tim", "driver-chris"
DUMMY_KEY: Final = "sk-standin-" + "0" * 24
MODEL: Final = "gpt-4o-realtime-preview-2024-12-17"
SHORT_SCRIPT: Final = (
    ("dispatcher", "Hi Chris, Tim here about load HDX-2478."),
    ("driver", "Hey Tim, go ahead."),
    ("dispatcher", "The receiver wants it two hours early."),
    ("driver", "I can do that."),
    ("dispatcher", "Great, thanks. Goodbye."),
    ("driver", "Goodbye Tim."),
)
AUDIBLE_DBFS: Final = -40.0
"""Speech at the observer's meter is around -20 dBFS; a silent track is at the floor."""


def short_scenario() -> Scenario:
    """The guide's personas (Tim ``alloy`` 0.8, Chris ``echo`` 0.7, the default model) on a
    six-line script, so a whole call takes about 15 s."""
    return parse_scenario(
        {
            "load_id": "HDX-2478",
            "pickup": {"location": "Fresno, California", "time": "06:00"},
            "delivery": {"location": "Salt Lake City, Utah", "time": "Thursday 14:00"},
            "situation": "The receiver moved the delivery window up by two hours.",
            "max_turns": len(SHORT_SCRIPT) + 2,  # the goodbyes end it
            "script": [{"speaker": who, "text": text} for who, text in SHORT_SCRIPT],
        },
        "realtime-test",
    )


def lines_of(role: str) -> list[str]:
    return [text for who, text in SHORT_SCRIPT if who == role]


@contextlib.asynccontextmanager
async def realtime_worker(
    server: LocalServer, stand_in: RealtimeStandIn
) -> AsyncIterator[InProcessWorker]:
    """The dashboard's in-process worker with ``DISPATCH_VOICE=realtime``, a dummy key and
    ``OPENAI_BASE_URL`` at the stand-in (each job reads them when it builds its models)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DISPATCH_VOICE", "realtime")
        env.setenv("OPENAI_API_KEY", DUMMY_KEY)
        env.setenv("OPENAI_BASE_URL", stand_in.base_url)
        agent_server = build_server(
            voice="realtime",
            ws_url=server.url,
            api_key=server.api_key,
            api_secret=server.api_secret,
        )
        worker = InProcessWorker(agent_server, lambda _status: None, agent_name=AGENT_NAME)
        await worker.start()
        try:
            assert (await worker.wait_registered(30)).state == "registered"
            await wait_until_jobs_dispatched(server, 60)
            yield worker
        finally:
            await worker.aclose()


async def fresh(
    stand_in: RealtimeStandIn, faults: Iterable[Fault] = (), log_path: Path | None = None
) -> None:
    """The stand-in reset for the next call, once every earlier call (the worker's probe rooms
    run realtime calls too) has ended and closed its sockets."""
    await eventually(
        lambda: not job_threads() and not stand_in.open_sessions, 60, "earlier calls to end"
    )
    stand_in.reset(tuple(faults), log_path)


def realtime_watch(server: LocalServer, room: str, worker: InProcessWorker | None) -> CallWatch:
    """A :class:`CallWatch` of ``room`` whose model has the realtime voice (a key present) and,
    when given, the worker registered a minute ago."""
    model = RoomModel(in_process_worker=True)
    model.apply(VoiceConfigured("realtime", key_present=True))
    if worker is not None:
        model.apply(WorkerStatusChanged(worker.status, at=time.monotonic() - 60))
    return CallWatch(server, room, model)


async def create_call_room(server: LocalServer, scenario: Scenario, *, dispatch: bool) -> str:
    """A room carrying the scenario, dispatched to the agents or not yet (see
    :func:`dispatch_under_doctor`; livekit-server then lists an automatic dispatch to the
    empty agent name, which the ``dispatch.agent_name`` check reports)."""
    name = f"rt_{uuid.uuid4().hex[:8]}"
    metadata = scenario.to_json()
    agents = [api.RoomAgentDispatch(agent_name=AGENT_NAME, metadata=metadata)] if dispatch else []
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        await lkapi.room.create_room(
            api.CreateRoomRequest(name=name, metadata=metadata, empty_timeout=60, agents=agents)
        )
    return name


async def dispatch_under_doctor(
    server: LocalServer, watch: CallWatch, timeout_s: float
) -> asyncio.Task[DoctorResult]:
    """Start ``doctor`` on the room, dispatch the agents once it is in, return its task.

    Session events are not replayed to a late joiner, so doctor must be in the room before the
    agents start for it to see what their sessions report.
    """
    settings = LiveKitSettings(server.url, server.api_key, server.api_secret, "test")
    doctor = asyncio.create_task(diagnose(settings, room=watch.room, timeout_s=timeout_s))

    async def doctor_in_room() -> bool | None:
        async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
            reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=watch.room))
        return (
            any(p.identity.startswith("dispatch-tui-doctor-") for p in reply.participants) or None
        )

    await poll(doctor_in_room, 15, "doctor to join the room")
    await watch.control.redispatch(watch.room)
    return doctor


FD_MARGIN: Final = 8
"""Descriptors a process may keep after a call (pooled connections, epoll), as in test_leaks."""


async def assert_nothing_left(
    server: LocalServer,
    room: str,
    stand_in: RealtimeStandIn,
    threads_before: Iterable[Any],
    agents: tuple[str, ...] = (TIM, CHRIS),
) -> None:
    """The call's job thread ended, no thread stayed, every OpenAI socket closed, none of
    ``agents`` (identities) is left in the room."""
    before = set(threads_before)
    for thread in set(job_threads()) - before:
        await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive(), "the job thread is still running"
    assert not [t for t in new_threads(before) if t != "job_thread_runner"], new_threads(before)
    await eventually(lambda: not stand_in.open_sessions, 10, "every realtime socket to close")
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:

        async def empty() -> bool | None:
            try:
                reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            except api.TwirpError:
                return True  # the room is gone
            return not [p for p in reply.participants if p.identity in agents] or None

        await poll(empty, 15, f"every agent to leave {room}")


async def assert_fds_back(fds_before: int) -> None:
    """The process holds no more file descriptors than before the call (and its watchers)."""
    process = psutil.Process()
    await eventually(
        lambda: process.num_fds() <= fds_before + FD_MARGIN,
        10,
        f"file descriptors back near {fds_before} (now {process.num_fds()})",
    )
