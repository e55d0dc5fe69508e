"""20 room creations fired at once through ``POST /api/v1/rooms/create``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from livekit import api
from reliability_support import HDX

from tui.commands.api_server import make_app
from tui.core.control_plane import ControlPlane
from tui.core.local_server import LocalServer

pytestmark = pytest.mark.e2e

CONCURRENT = 20


@pytest.fixture
def server(own_server: LocalServer) -> LocalServer:
    """A server of our own, so its room count is exactly what this test created."""
    return own_server


async def test_twenty_concurrent_creations_are_distinct_and_accounted_for(
    server: LocalServer,
) -> None:
    app = make_app(lambda: ControlPlane(server.url, server.api_key, server.api_secret))
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    body = HDX.read_bytes()
    try:

        async def create() -> tuple[int, dict[str, Any]]:
            response = await client.post(
                "/api/v1/rooms/create", data=body, headers={"Content-Type": "application/json"}
            )
            payload: dict[str, Any] = await response.json()
            return response.status, payload

        results = await asyncio.gather(*(create() for _ in range(CONCURRENT)))
    finally:
        await client.close()

    created = [payload for status, payload in results if status == 200]
    failed = [(status, payload) for status, payload in results if status != 200]
    for status, payload in failed:
        # A failure must say why, in one line, as the API's JSON error.
        assert status == 502 and set(payload) == {"error"}, (status, payload)
        assert payload["error"] and "\n" not in payload["error"]
    names = [payload["room_name"] for payload in created]
    dispatches = [payload["dispatch_id"] for payload in created]
    assert len(set(names)) == len(names), "no two requests got the same room"
    assert len(set(dispatches)) == len(dispatches)
    assert len(created) == CONCURRENT, f"{len(failed)} failed: {failed[:2]}"

    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        rooms = (await lkapi.room.list_rooms(api.ListRoomsRequest())).rooms
        assert sorted(room.name for room in rooms) == sorted(names)
        for name in names:
            listed = await lkapi.agent_dispatch.list_dispatch(name)
            assert len(listed) == 1, f"{name} has {len(listed)} dispatches"
