"""The room watch on a real server: what it reports about a room, its failures, its lifetime."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
from helpers import eventually, scaled
from livekit import api

from agents.constants import AGENT_NAME
from tui.core.control_plane import ControlPlane
from tui.core.events import JobsListed, ObserverStatus, WatchEvent
from tui.core.infra_events import (
    ControlPlaneAnswered,
    DispatchesListed,
    RoomCreated,
    RoomsListed,
    WorkerLogErrors,
)
from tui.core.local_server import LocalServer
from tui.core.log_errors import LogErrorCounter
from tui.core.room_watch import RoomWatch
from tui.core.settings import LiveKitSettings

pytestmark = pytest.mark.e2e


def settings_for(server: LocalServer, secret: str | None = None) -> LiveKitSettings:
    return LiveKitSettings(server.url, server.api_key, secret or server.api_secret, "test")


async def new_room(server: LocalServer) -> str:
    name = f"watch_{uuid.uuid4().hex[:8]}"
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=name, empty_timeout=30, agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME)]
            )
        )
    return name


async def test_a_watched_room_is_reported_with_its_dispatch_and_jobs(
    livekit_server: LocalServer,
) -> None:
    room = await new_room(livekit_server)
    events: list[WatchEvent] = []
    settings = settings_for(livekit_server)
    async with ControlPlane.from_settings(settings) as control:
        watch = RoomWatch(
            settings, control, events.append, poll_interval_s=0.2, observer_identity="obs-watch"
        )
        watch.start()
        try:
            await watch.watch(room)
            assert watch.room == room and watch.observer is not None

            def of(kind: type) -> list[WatchEvent]:
                return [e for e in events if isinstance(e, kind)]

            await eventually(lambda: of(DispatchesListed), scaled(10), "the room's dispatches")
            assert any(isinstance(e, ObserverStatus) and e.state == "connected" for e in events)
            listed = of(RoomsListed)[-1]
            assert isinstance(listed, RoomsListed) and room in [r.name for r in listed.rooms]
            created = of(RoomCreated)[-1]
            assert isinstance(created, RoomCreated) and created.created_at is not None
            dispatches = of(DispatchesListed)[-1]
            assert isinstance(dispatches, DispatchesListed)
            assert [d.agent_name for d in dispatches.dispatches] == [AGENT_NAME]
            jobs = [e for e in of(JobsListed) if isinstance(e, JobsListed) and e.room == room]
            assert jobs and jobs[-1].jobs[0].status == "unassigned"  # no worker serves it here
            assert all(
                e.ok for e in of(ControlPlaneAnswered) if isinstance(e, ControlPlaneAnswered)
            )
        finally:
            await watch.aclose()
        assert watch.room is None and watch.observer is None
        count = len(events)
        await asyncio.sleep(0.5)
        assert len(events) == count, "nothing is reported after aclose"
        await control.delete_room(room)


async def test_rejected_credentials_are_reported_and_the_watch_keeps_polling(
    livekit_server: LocalServer,
) -> None:
    events: list[WatchEvent] = []
    settings = settings_for(livekit_server, secret="x" * 40)
    async with ControlPlane.from_settings(settings) as control:
        watch = RoomWatch(settings, control, events.append, poll_interval_s=0.1)
        watch.start()
        try:

            def failures() -> list[ControlPlaneAnswered]:
                return [e for e in events if isinstance(e, ControlPlaneAnswered) and not e.ok]

            await eventually(lambda: len(failures()) >= 2, scaled(10), "two failed polls")
            assert {e.kind for e in failures()} == {"credentials"}
            assert all("x" * 40 not in e.detail for e in failures())
        finally:
            await watch.aclose()


async def test_worker_log_errors_are_reported_once_per_change(
    livekit_server: LocalServer,
) -> None:
    events: list[WatchEvent] = []
    counter = LogErrorCounter(time.monotonic)
    logger = logging.getLogger("test.room_watch")
    logger.addHandler(counter)
    settings = settings_for(livekit_server)
    try:
        async with ControlPlane.from_settings(settings) as control:
            watch = RoomWatch(settings, control, events.append, log_errors=counter)
            logger.error("first")
            logger.error("second")
            await watch.poll()
            await watch.poll()  # nothing new: no second event
            errors = [e for e in events if isinstance(e, WorkerLogErrors)]
            assert len(errors) == 1 and errors[0].count == 2
            assert errors[0].last == "test.room_watch: second"
            await watch.aclose()
    finally:
        logger.removeHandler(counter)
