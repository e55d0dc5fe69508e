"""A watched room's call waits for its hidden observer: on a real livekit-server, with the
in-process worker (offline voice) and the dashboard's own observer joining late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from helpers import assert_every_line_arrived, scaled
from livekit import api, rtc
from livekit.agents import AgentServer
from reliability_support import thread_worker

from agents.observer_wait import observer_present, wait_for_observer
from agents.tokens import agent_token, observer_token
from tui.cluster.load import RoomWatch, scripted_scenario
from tui.core.control_plane import WATCHED_OBSERVER_WAIT_S, ControlPlane
from tui.core.local_server import LocalServer
from tui.core.observer import RoomObserver

pytestmark = pytest.mark.e2e

LATE_S = 3.0
"""How late the observer joins: the call's first line comes about 0.5 s after the agents."""


@pytest.fixture
async def lkapi(livekit_server: LocalServer) -> AsyncIterator[api.LiveKitAPI]:
    client = api.LiveKitAPI(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)
    try:
        yield client
    finally:
        await client.aclose()


async def _room(lkapi: api.LiveKitAPI) -> str:
    name = f"observer_wait_{time.monotonic_ns()}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=30))
    return name


async def test_a_hidden_observer_is_seen_and_nobody_else_counts(
    livekit_server: LocalServer, lkapi: api.LiveKitAPI
) -> None:
    server, room = livekit_server, await _room(lkapi)
    agent = rtc.Room()
    visible = rtc.Room()
    observer = rtc.Room()
    try:
        await agent.connect(
            server.url, agent_token(server.api_key, server.api_secret, room, "agent-a", "A", {})
        )
        standard = api.VideoGrants(room_join=True, room=room)
        token = api.AccessToken(server.api_key, server.api_secret).with_identity("someone")
        await visible.connect(server.url, token.with_grants(standard).to_jwt())
        assert not await observer_present(lkapi, room)
        assert await wait_for_observer(lkapi, room, timeout_s=0.6, poll_s=0.2) is None

        await observer.connect(server.url, observer_token(server.api_key, server.api_secret, room))
        waited = await wait_for_observer(lkapi, room, timeout_s=scaled(10))
        assert waited is not None
    finally:
        for joined in (agent, visible, observer):
            await joined.disconnect()
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))


async def test_an_unreachable_server_starts_the_call_at_once() -> None:
    # nothing listens there: the call must not hang on the observer
    unreachable = api.LiveKitAPI("http://127.0.0.1:9", "key", "s" * 40)
    try:
        started = time.monotonic()
        assert await wait_for_observer(unreachable, "room", timeout_s=30) is None
        assert time.monotonic() - started < 30
    finally:
        await unreachable.aclose()


@pytest.fixture
async def worker(livekit_server: LocalServer) -> AsyncIterator[AgentServer]:
    async with thread_worker(livekit_server) as running:
        yield running


async def test_a_late_observer_of_a_watched_room_hears_the_call_from_its_first_line(
    worker: AgentServer, livekit_server: LocalServer, control_plane: ControlPlane
) -> None:
    server, scenario = livekit_server, scripted_scenario()
    assert LATE_S < WATCHED_OBSERVER_WAIT_S
    created = await control_plane.create_room(scenario, watched=True)
    agents = frozenset(persona.identity for persona in scenario.agents)
    watch = RoomWatch(created.name, server.url, server.url, agents, time.monotonic())
    # the agents are in the room and ready long before the observer comes
    await asyncio.sleep(LATE_S)
    token = observer_token(server.api_key, server.api_secret, created.name)
    async with RoomObserver(server.url, token, created.name, watch.sink, meter_levels=False):
        ended = await watch.wait_until(lambda w: w.completed, scaled(90))
    assert ended, f"the call did not end: {watch.lines}"
    assert_every_line_arrived(watch)
