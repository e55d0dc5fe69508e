"""The control plane against a real livekit-server: rooms, dispatches and clear errors."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import eventually
from livekit import api, rtc

from agents.constants import AGENT_NAME
from agents.scenario import Scenario, load_scenario, scenario_from_metadata
from agents.tokens import agent_token
from tui.core.control_plane import (
    DEPARTURE_TIMEOUT_S,
    WATCHED_OBSERVER_WAIT_S,
    ControlPlane,
    ControlPlaneError,
    new_room_name,
    room_timeouts,
)
from tui.core.local_server import LocalServer, free_port

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
ROOM_NAME = re.compile(r"^conv_HDX-2478_\d{8}T\d{12}Z_[0-9a-f]{6}$")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(SCENARIOS / "hdx-2478.json")


@pytest.fixture
async def lkapi(livekit_server: LocalServer) -> AsyncIterator[api.LiveKitAPI]:
    """The raw SDK, to check what the server holds independently of the code under test."""
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as client:
        yield client


async def _server_room(lkapi: api.LiveKitAPI, name: str) -> api.Room | None:
    rooms = (await lkapi.room.list_rooms(api.ListRoomsRequest(names=[name]))).rooms
    return rooms[0] if rooms else None


def test_room_names_sort_by_time_and_differ() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    name = new_room_name("HDX-2478", now)
    assert name.startswith("conv_HDX-2478_20260102T030405678901Z_")
    assert ROOM_NAME.match(name)
    assert len({new_room_name("HDX-2478", now) for _ in range(50)}) == 50


def test_timeouts_cover_the_conversation(scenario: Scenario) -> None:
    empty, departure = room_timeouts(scenario)
    assert departure == DEPARTURE_TIMEOUT_S
    assert empty >= 60 + 15 * scenario.max_turns  # start-up plus at least 15 s per turn


async def test_create_room_stores_scenario_and_dispatches_the_agent(
    control_plane: ControlPlane, lkapi: api.LiveKitAPI, scenario: Scenario
) -> None:
    created = await control_plane.create_room(scenario)
    try:
        assert ROOM_NAME.match(created.name), created.name
        room = await _server_room(lkapi, created.name)
        assert room is not None and room.sid == created.sid
        assert scenario_from_metadata(room.metadata).to_json() == scenario.to_json()
        assert (room.empty_timeout, room.departure_timeout) == room_timeouts(scenario)

        dispatches = await lkapi.agent_dispatch.list_dispatch(created.name)
        assert [(d.id, d.agent_name) for d in dispatches] == [(created.dispatch_id, AGENT_NAME)]
        assert scenario_from_metadata(dispatches[0].metadata).load_id == "HDX-2478"
    finally:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=created.name))


async def test_a_watched_room_asks_its_call_to_wait_for_the_observer(
    control_plane: ControlPlane, lkapi: api.LiveKitAPI, scenario: Scenario
) -> None:
    created = await control_plane.create_room(scenario, watched=True)
    try:
        room = await _server_room(lkapi, created.name)
        assert room is not None
        [dispatch] = await lkapi.agent_dispatch.list_dispatch(created.name)
        for metadata in (room.metadata, dispatch.metadata):
            assert scenario_from_metadata(metadata).observer_wait_s == WATCHED_OBSERVER_WAIT_S
        assert room.empty_timeout == room_timeouts(scenario)[0] + WATCHED_OBSERVER_WAIT_S
    finally:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=created.name))
    assert scenario.observer_wait_s == 0, "the caller's scenario is left as it was"


async def test_concurrent_creates_get_distinct_rooms(
    control_plane: ControlPlane, lkapi: api.LiveKitAPI, scenario: Scenario
) -> None:
    created = await asyncio.gather(*(control_plane.create_room(scenario) for _ in range(5)))
    try:
        assert len({c.name for c in created}) == 5
        assert len({c.sid for c in created}) == 5
        assert len({c.dispatch_id for c in created}) == 5
    finally:
        for room in created:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room.name))


async def test_custom_agent_name_is_dispatched(
    control_plane: ControlPlane, scenario: Scenario
) -> None:
    created = await control_plane.create_room(scenario, agent_name="other-agent")
    try:
        dispatches = await control_plane.list_dispatches(created.name)
        assert [(d.dispatch_id, d.agent_name) for d in dispatches] == [
            (created.dispatch_id, "other-agent")
        ]
    finally:
        await control_plane.delete_room(created.name)


async def test_list_rooms_summarises_ours_and_tolerates_foreign_rooms(
    control_plane: ControlPlane, lkapi: api.LiveKitAPI, scenario: Scenario
) -> None:
    created = await control_plane.create_room(scenario)
    foreign = f"foreign-{created.name[-6:]}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=foreign, metadata="{not json"))
    try:
        rooms = {r.name: r for r in await control_plane.list_rooms()}
        ours = rooms[created.name]
        assert (ours.sid, ours.load_id, ours.num_participants) == (created.sid, "HDX-2478", 0)
        assert ours.created_at is not None
        assert abs((datetime.now(UTC) - ours.created_at).total_seconds()) < 60
        assert rooms[foreign].load_id is None
    finally:
        await control_plane.delete_room(created.name)
        await control_plane.delete_room(foreign)


async def test_redispatch_adds_a_dispatch_with_the_scenario(
    control_plane: ControlPlane, lkapi: api.LiveKitAPI, scenario: Scenario
) -> None:
    created = await control_plane.create_room(scenario)
    try:
        second = await control_plane.redispatch(created.name)
        assert second and second != created.dispatch_id
        dispatches = await control_plane.list_dispatches(created.name)
        assert {d.dispatch_id for d in dispatches} == {created.dispatch_id, second}
        assert {d.agent_name for d in dispatches} == {AGENT_NAME}
        raw = await lkapi.agent_dispatch.get_dispatch(second, created.name)
        assert raw is not None and raw.metadata == scenario.to_json()
    finally:
        await control_plane.delete_room(created.name)


async def test_redispatch_to_a_missing_room_creates_nothing(control_plane: ControlPlane) -> None:
    # CreateDispatch alone would create the room; the control plane must refuse first.
    with pytest.raises(ControlPlaneError, match="no active room named ghost-room") as info:
        await control_plane.redispatch("ghost-room")
    assert info.value.kind == "not_found"
    assert not await control_plane.room_exists("ghost-room")


async def test_list_dispatches_of_a_missing_room_says_so(control_plane: ControlPlane) -> None:
    with pytest.raises(ControlPlaneError, match="no active room") as info:
        await control_plane.list_dispatches("ghost-room-2")
    assert info.value.kind == "not_found"


async def test_delete_removes_the_room(
    control_plane: ControlPlane, lkapi: api.LiveKitAPI, scenario: Scenario
) -> None:
    created = await control_plane.create_room(scenario)
    assert await _server_room(lkapi, created.name) is not None
    await control_plane.delete_room(created.name)
    assert await _server_room(lkapi, created.name) is None
    assert created.name not in {r.name for r in await control_plane.list_rooms()}
    with pytest.raises(ControlPlaneError, match="does not exist") as info:
        await control_plane.delete_room(created.name)
    assert info.value.kind == "not_found"


async def test_wrong_secret_is_reported_as_credentials(
    livekit_server: LocalServer, scenario: Scenario
) -> None:
    wrong = "W" * 40
    async with ControlPlane(livekit_server.url, livekit_server.api_key, wrong) as plane:
        with pytest.raises(ControlPlaneError) as info:
            await plane.create_room(scenario)
    message = str(info.value)
    assert info.value.kind == "credentials"
    assert "credentials rejected" in message and "LIVEKIT_API_KEY" in message
    assert wrong not in message and livekit_server.api_secret not in message


async def test_unknown_key_is_reported_as_credentials(livekit_server: LocalServer) -> None:
    async with ControlPlane(livekit_server.url, "nosuchkey", livekit_server.api_secret) as plane:
        with pytest.raises(ControlPlaneError, match="credentials rejected"):
            await plane.list_rooms()


async def test_unused_port_is_reported_as_unreachable() -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    async with ControlPlane(url, "key", "S" * 40) as plane:
        with pytest.raises(ControlPlaneError) as info:
            await plane.list_rooms()
    assert info.value.kind == "unreachable"
    assert f"unreachable at {url}" in str(info.value)


async def test_silent_server_is_reported_as_not_answering() -> None:
    # A listening socket nobody reads from: the TCP connection succeeds, the reply never comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        async with ControlPlane(
            f"http://127.0.0.1:{port}", "key", "S" * 40, timeout_s=0.3
        ) as plane:
            expected = re.escape("did not answer within 0.3s")
            with pytest.raises(ControlPlaneError, match=expected) as info:
                await plane.list_rooms()
    assert info.value.kind == "unreachable"


async def test_wrong_path_is_reported_as_not_livekit(livekit_server: LocalServer) -> None:
    url = f"{livekit_server.config.http_url}/not-livekit"
    async with ControlPlane(url, livekit_server.api_key, livekit_server.api_secret) as plane:
        with pytest.raises(ControlPlaneError, match="is LIVEKIT_URL a LiveKit server"):
            await plane.list_rooms()


async def test_use_outside_async_with_is_a_programming_error(scenario: Scenario) -> None:
    plane = ControlPlane("ws://127.0.0.1:1", "key", "S" * 40)
    assert "S" * 40 not in repr(plane)
    with pytest.raises(RuntimeError, match="async with"):
        await plane.create_room(scenario)


async def test_server_closes_a_room_holding_only_agents(
    livekit_server: LocalServer, lkapi: api.LiveKitAPI
) -> None:
    """The fact behind room_timeouts: agents alone do not keep a room open."""
    name = f"agents-only-{new_room_name('X1')[-6:]}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=1))
    agent = rtc.Room()
    token = agent_token(
        livekit_server.api_key, livekit_server.api_secret, name, "dispatcher-tim", "Tim"
    )
    try:
        await agent.connect(livekit_server.url, token)

        async def closed() -> bool:
            return await _server_room(lkapi, name) is None

        await eventually(closed, 6, "an agent-only room to close", interval_s=0.2)
    finally:
        await agent.disconnect()
