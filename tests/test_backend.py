"""The dashboard's backend on a real livekit-server: what its room operations leave behind."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from helpers import scaled
from livekit import api
from reliability_support import Recorder, backend_for

from tui.core.local_server import LocalServer

pytestmark = pytest.mark.e2e


async def _listed(lkapi: api.LiveKitAPI, room: str) -> bool:
    reply = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
    return any(r.name == room for r in reply.rooms)


async def test_deleting_a_room_while_its_observer_joins_leaves_no_room(
    livekit_server: LocalServer,
) -> None:
    server, room = livekit_server, f"backend_{uuid.uuid4().hex[:8]}"
    backend = backend_for(server, Recorder(asyncio.get_running_loop()), worker=False)
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=60))
        await backend.start()
        try:
            # the user picks the room and deletes it at once, while the observer still joins
            joining = asyncio.create_task(backend.observe(room))
            await asyncio.sleep(0)
            await backend.delete_room(room)
            with contextlib.suppress(Exception):
                await joining
            assert backend.observed_room is None
            # a join after the deletion would have re-created the room: give it time to show
            await asyncio.sleep(scaled(2))
            assert not await _listed(lkapi, room)
        finally:
            await backend.aclose()
            with contextlib.suppress(Exception):
                await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
