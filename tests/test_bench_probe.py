"""The bench's RoomProbe reads audio only until it has what it measures (Tim first audible).

Against a real loopback livekit-server: two stand-in agents (plain rtc participants with an
AGENT-kind token) publish a tone, and the probe must time both subscriptions and Tim's first
sound, then read no more frames of anyone: Chris's tone is never metered, Tim's meter stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
from livekit import api, rtc

from bench.probe import RoomProbe
from tests.helpers import eventually, scaled
from tui.core.local_server import LocalServer

SAMPLE_RATE = 48_000
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms


async def _tone(source: rtc.AudioSource) -> None:
    phase = 0
    while True:
        t = (np.arange(FRAME_SAMPLES) + phase) / SAMPLE_RATE
        samples = (np.sin(2 * math.pi * 440 * t) * 0.5 * 32767).astype(np.int16)
        phase += FRAME_SAMPLES
        await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))


@contextlib.asynccontextmanager
async def _speaking_agent(
    server: LocalServer, room_name: str, identity: str
) -> AsyncIterator[None]:
    """An AGENT-kind participant publishing a loud tone in real time."""
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_kind("agent")
        .with_grants(api.VideoGrants(room_join=True, room=room_name, can_publish=True))
        .to_jwt()
    )
    room = rtc.Room()
    await room.connect(server.url, token)
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    tone = asyncio.create_task(_tone(source), name="test:tone")
    try:
        await room.local_participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track("voice", source),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
        )
        yield
    finally:
        tone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tone
        await room.disconnect()


async def test_the_probe_stops_reading_audio_once_tim_was_heard(
    livekit_server: LocalServer,
) -> None:
    server = livekit_server
    name = f"probe-{uuid.uuid4().hex[:8]}"
    lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=60))
    probe = RoomProbe(
        server.url,
        server.api_key,
        server.api_secret,
        name,
        t0=time.monotonic(),
        tim="dispatcher-tim",
        chris="driver-chris",
    )
    try:
        async with (
            probe,
            _speaking_agent(server, name, "driver-chris"),
            _speaking_agent(server, name, "dispatcher-tim"),
        ):
            assert await probe.wait_ready(scaled(15.0))
            assert probe.both_subscribed_s is not None and probe.tim_audible_s is not None

            def no_meter_left() -> bool:
                return not any("meter" in task.get_name() for task in probe.observer.tasks)

            await eventually(no_meter_left, 10.0, "every level meter of the probe stopped")
            # both still speak: a probe reading Chris's frames would have heard him by now
            await asyncio.sleep(0.5)
            assert "driver-chris" not in probe.audible_at
            assert no_meter_left()
    finally:
        with contextlib.suppress(Exception):
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
        await lkapi.aclose()
