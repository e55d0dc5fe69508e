"""The HTTP API against a real livekit-server: 200, 400, 413, 415, 502 and loopback only."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from livekit import api

from agents.scenario import MAX_FILE_BYTES, scenario_from_metadata
from tui.commands.api_server import ApiServerError, is_loopback_host, make_app, serve
from tui.core.control_plane import ControlPlane
from tui.core.local_server import LocalServer
from tui.core.settings import LiveKitSettings

HDX = Path(__file__).resolve().parent.parent / "scenarios" / "hdx-2478.json"
CREATE = "/api/v1/rooms/create"
JSON = {"Content-Type": "application/json"}


def _client_for(url: str, key: str, secret: str) -> TestClient[Any, Any]:
    app = make_app(lambda: ControlPlane(url, key, secret))
    return TestClient(TestServer(app, host="127.0.0.1"))


@pytest.fixture
async def client(livekit_server: LocalServer) -> AsyncIterator[TestClient[Any, Any]]:
    test_client = _client_for(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()


async def _room_names(server: LocalServer) -> set[str]:
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        reply = await lkapi.room.list_rooms(api.ListRoomsRequest())
    return {room.name for room in reply.rooms}


async def _error(response: aiohttp.ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error"}
    message: str = body["error"]
    assert message and "\n" not in message
    return message


async def test_create_answers_room_dispatch_and_load(
    client: TestClient[Any, Any], livekit_server: LocalServer
) -> None:
    response = await client.post(CREATE, data=HDX.read_bytes(), headers=JSON)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"room_name", "dispatch_id", "load_id"}
    assert re.match(r"^conv_HDX-2478_", body["room_name"])
    assert body["dispatch_id"].startswith("AD_")
    assert body["load_id"] == "HDX-2478"
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as lkapi:
        rooms = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[body["room_name"]]))
        dispatches = await lkapi.agent_dispatch.list_dispatch(body["room_name"])
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=body["room_name"]))
    assert scenario_from_metadata(rooms.rooms[0].metadata).load_id == "HDX-2478"
    assert [d.id for d in dispatches] == [body["dispatch_id"]]


async def test_list_rooms_includes_a_created_room(client: TestClient[Any, Any]) -> None:
    created = await (await client.post(CREATE, data=HDX.read_bytes(), headers=JSON)).json()
    response = await client.get("/api/v1/rooms")
    assert response.status == 200
    rooms = {room["name"]: room for room in (await response.json())["rooms"]}
    room = rooms[created["room_name"]]
    assert room["load_id"] == "HDX-2478" and room["num_participants"] == 0
    assert room["sid"].startswith("RM_") and room["created_at"].endswith("+00:00")


def _bad_bodies() -> list[tuple[str, bytes, str]]:
    data = json.loads(HDX.read_text(encoding="utf-8"))
    unknown = dict(data, colour="red")
    wrong_type = dict(data, max_turns="eight")
    return [
        ("malformed", b'{"load_id": ', "invalid JSON"),
        ("empty", b"", "invalid JSON"),
        ("not utf-8", '{"title": "Café"}'.encode("latin-1"), "not UTF-8"),
        ("unknown field", json.dumps(unknown).encode(), "field 'colour'"),
        ("wrong type", json.dumps(wrong_type).encode(), "field 'max_turns'"),
        ("array", b"[1, 2]", "(top level)"),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "nested"),
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b, e) for _, b, e in _bad_bodies()],
    ids=[name for name, _, _ in _bad_bodies()],
)
async def test_bad_scenario_is_400_and_creates_nothing(
    client: TestClient[Any, Any], livekit_server: LocalServer, body: bytes, expected: str
) -> None:
    before = await _room_names(livekit_server)
    message = await _error(await client.post(CREATE, data=body, headers=JSON), 400)
    assert message.startswith("request body: ") and expected in message
    assert await _room_names(livekit_server) == before


async def test_oversized_body_is_413_and_creates_nothing(
    client: TestClient[Any, Any], livekit_server: LocalServer
) -> None:
    before = await _room_names(livekit_server)
    huge = b" " * (MAX_FILE_BYTES + 1)
    message = await _error(await client.post(CREATE, data=huge, headers=JSON), 413)
    assert str(MAX_FILE_BYTES) in message

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the read limit applies
        for _ in range(5):
            yield b" " * (MAX_FILE_BYTES // 4)

    await _error(await client.post(CREATE, data=chunks(), headers=JSON), 413)
    assert await _room_names(livekit_server) == before


async def test_non_json_content_type_is_415(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        CREATE, data=HDX.read_bytes(), headers={"Content-Type": "text/plain"}
    )
    assert "application/json" in await _error(response, 415)


async def test_unknown_route_and_method_answer_json(client: TestClient[Any, Any]) -> None:
    await _error(await client.get("/api/v1/nothing"), 404)
    await _error(await client.get(CREATE), 405)


async def test_server_credentials_rejected_is_502(livekit_server: LocalServer) -> None:
    wrong = "Z" * 40
    test_client = _client_for(livekit_server.url, livekit_server.api_key, wrong)
    await test_client.start_server()
    try:
        message = await _error(
            await test_client.post(CREATE, data=HDX.read_bytes(), headers=JSON), 502
        )
        assert "credentials rejected" in message and wrong not in message
        await _error(await test_client.get("/api/v1/rooms"), 502)
    finally:
        await test_client.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


async def test_serve_refuses_non_loopback(livekit_server: LocalServer) -> None:
    settings = LiveKitSettings(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret, "test"
    )
    with pytest.raises(ApiServerError, match=re.escape("refusing to listen on 0.0.0.0")):
        await serve(settings, "0.0.0.0", 0)


async def test_serve_answers_on_loopback_until_cancelled(livekit_server: LocalServer) -> None:
    settings = LiveKitSettings(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret, "test"
    )
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, "127.0.0.1", 0, on_ready=ready.set_result))
    try:
        base = await asyncio.wait_for(ready, 5)
        assert re.match(r"^http://127\.0\.0\.1:\d+$", base) and not base.endswith(":0")
        async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v1/rooms") as r:
            assert r.status == 200
            assert "rooms" in await r.json()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
