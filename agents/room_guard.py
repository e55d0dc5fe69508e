"""The room-liveness guard: a call's agents never keep alive, or bring back, a deleted room.

A job can start after its room was deleted, be cancelled in the middle of a join, or be
dispatched by a deleted room's resurrected copy; ``RoomGuard`` connects the call's rooms and
checks the server so that none of these leaves a room or participant behind
(tests/test_leaks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable

from livekit import api, rtc
from livekit.agents import JobContext
from livekit.agents.utils import http_context

from agents.compat import job_server_url
from agents.session_events import one_line
from agents.worker_config import WorkerConfig

logger = logging.getLogger("multi_agent_worker")

SERVER_ROOM_UPDATE_INTERVAL_S = 5.0
"""livekit-server 1.13.5 stores a changed room on a 5 s tick (``roomUpdateInterval``)."""
ROOM_CHECK_TIMEOUT_S = 10.0
"""Bound on each server call checking the job's room (livekit-api sets none)."""


class RoomGuard:
    """Connects one job's rooms and checks with the server that the job's room is still live."""

    def __init__(self, ctx: JobContext, config: WorkerConfig, room_name: str) -> None:
        self.ctx = ctx
        self.config = config
        self.room_name = room_name
        self._connect_started: dict[rtc.Room, float] = {}

    async def connect(self, room: rtc.Room, connect: Awaitable[None]) -> None:
        """Await a room's connect; if the job is cancelled meanwhile, finish it, leave, re-raise.

        livekit rtc 1.1.21: a ``Room.connect()`` cancelled after the server accepted the join
        never tells the FFI it is ready for room events; the FFI then panics and the SDK sends
        SIGTERM to the whole process, which is the dashboard with the in-process worker. A room
        deleted right after its creation cancels the job exactly there (tests/test_leaks.py).
        """
        self._connect_started[room] = time.monotonic()
        task = asyncio.ensure_future(connect)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
                # the join may have re-created the deleted room that cancelled us
                await self.joined_a_recreated_room(room)
            with contextlib.suppress(Exception):
                await room.disconnect()
            raise

    async def joined_a_recreated_room(self, room: rtc.Room) -> bool:
        """True, after leaving ``room`` and deleting what is left of it, if the room the job
        was dispatched to was deleted while ``room`` joined it.

        Servers create rooms on join, so a join that comes after the deletion re-creates the
        room with a new sid. One that lands while livekit-server 1.13.5 is still deleting it
        does worse (livekit/livekit#4726): the join reloads the stored room, so the copy has
        the old sid, metadata and dispatches (the agents are dispatched to it again), and the
        finishing deletion then drops it from the server's room map, so nothing ever closes it
        (not DeleteRoom, not its empty timeout) and it stores itself in the room list again
        whenever its participants change. Only ``room_is_live`` tells it apart.

        Finishes even if the job is cancelled meanwhile (the framework cancels an entrypoint
        15 s into a shutdown, and a retried join can take that long), then re-raises.
        """
        if not room.isconnected():
            return False
        check = asyncio.ensure_future(self._leave_if_deleted(room))
        try:
            return await asyncio.shield(check)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await check
            raise

    async def _leave_if_deleted(self, room: rtc.Room) -> bool:
        if await self.room_is_live():
            return False
        logger.warning("Room %s was deleted while the agents joined; leaving", self.room_name)
        with contextlib.suppress(Exception):
            await room.disconnect()
        # A copy resurrected by our join stores itself on 5 s ticks from its creation (during
        # the join) when it differs from what it last stored: left before its first tick, it is
        # back as created and never stores itself. Otherwise it stores itself again up to two
        # ticks after we left, and that entry must go too.
        stayed_s = time.monotonic() - self._connect_started.get(room, 0.0)
        if stayed_s >= SERVER_ROOM_UPDATE_INTERVAL_S - 1:
            watch_s = 2 * SERVER_ROOM_UPDATE_INTERVAL_S + 1
        else:
            watch_s = 0.0
        deadline = time.monotonic() + watch_s
        while True:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(ROOM_CHECK_TIMEOUT_S):
                    lkapi = self.server_api()
                    listed = await lkapi.room.list_rooms(
                        api.ListRoomsRequest(names=[self.room_name])
                    )
                    if listed.rooms:
                        await lkapi.room.delete_room(api.DeleteRoomRequest(room=self.room_name))
            if time.monotonic() >= deadline:
                return True
            await asyncio.sleep(0.5)

    def server_api(self) -> api.LiveKitAPI:
        """The server API with this worker's own URL and credentials, on the job's session.

        Not ``ctx.api``: it reads the process environment, which another in-process worker
        (tests run several) may have pointed at another server.
        """
        return api.LiveKitAPI(
            job_server_url(self.ctx) or self.config.ws_url or None,
            self.config.api_key or None,
            self.config.api_secret or None,
            session=http_context.http_session(),
        )

    async def room_is_live(self) -> bool:
        """Whether the server still serves the room this job was dispatched to.

        The room must be listed with the dispatched sid and still hold this job's dispatch:
        a copy resurrected by a join (see ``joined_a_recreated_room``) keeps the sid but is
        not in the server's room map, and its dispatches have new ids.
        """
        job = self.ctx.job
        try:
            async with asyncio.timeout(ROOM_CHECK_TIMEOUT_S):
                lkapi = self.server_api()
                listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[self.room_name]))
                if not any(r.sid == job.room.sid or not job.room.sid for r in listed.rooms):
                    return False
                if not job.dispatch_id:
                    return True
                dispatches = await lkapi.agent_dispatch.list_dispatch(self.room_name)
        except api.ServerError as exc:
            # the server answered that it cannot serve the room (not found, or nobody to ask)
            logger.info("Room %s is gone: %s", self.room_name, one_line(exc.message or exc))
            return False
        except Exception as exc:
            # the server could not be asked: do not abandon a call that may be fine
            logger.warning("Could not check room %s: %s", self.room_name, one_line(exc))
            return True
        return any(d.id == job.dispatch_id for d in dispatches)
