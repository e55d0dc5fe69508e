"""Waiting for the agents' sessions to be ready (agents.ready_watch), on a real livekit-server:
a track no other agent subscribed to is asked for again, and a call whose agent never came
ends with the missing step named instead of hanging."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from helpers import scaled
from livekit import rtc

from agents.call_seats import Seat
from agents.ready_watch import SessionsNotReady, missing_step, wait_until_ready
from agents.room_receipts import PeerReceipts
from agents.scenario import Persona
from agents.session_publisher import SessionEventPublisher
from agents.tokens import agent_token
from tui.cluster.load import scripted_scenario
from tui.core.local_server import LocalServer

pytestmark = pytest.mark.e2e

SCENARIO = scripted_scenario()
TIM, CHRIS = SCENARIO.dispatcher, SCENARIO.driver


def _seat(persona: Persona, linked: Persona) -> Seat:
    room = rtc.Room()
    return Seat(
        persona,
        room,
        SessionEventPublisher(room, persona.name),
        PeerReceipts(room),
        linked=linked.identity,
    )


async def _join(server: LocalServer, room_name: str, seat: Seat, *, subscribe: bool) -> None:
    persona = seat.persona
    token = agent_token(
        server.api_key, server.api_secret, room_name, persona.identity, persona.name, {}
    )
    await seat.room.connect(server.url, token, options=rtc.RoomOptions(auto_subscribe=subscribe))


async def _publish_audio(seat: Seat) -> rtc.LocalTrackPublication:
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track(f"{seat.persona.name}-audio", source)
    return await seat.room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )


async def test_a_track_nobody_subscribed_to_is_asked_for_again(
    livekit_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    room_name = f"ready_watch_{time.monotonic_ns()}"
    tim, chris = _seat(TIM, CHRIS), _seat(CHRIS, TIM)
    try:
        await _join(livekit_server, room_name, tim, subscribe=True)
        # Chris's room subscribes to nothing by itself: Tim's track waits, as in the hung call
        await _join(livekit_server, room_name, chris, subscribe=False)
        published = await _publish_audio(tim)
        deadline = time.monotonic() + scaled(10)
        while CHRIS.identity not in tim.room.remote_participants and time.monotonic() < deadline:
            await _sleep()
        assert "not subscribed by another agent" in missing_step(tim, [tim, chris])

        async def ready(seat: Seat) -> None:
            if seat is tim:
                await published.wait_for_subscription()

        reported: list[tuple[str, str]] = []
        with caplog.at_level(logging.WARNING, logger="multi_agent_worker"):
            await wait_until_ready(
                [tim, chris],
                ready,
                warn_s=0.5,
                nudge_every_s=1.0,
                give_up_s=scaled(20),
                report=lambda seat, what: reported.append((seat.persona.name, what)),
            )
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            f"Room {room_name}: agents not ready" in text
            and "Tim's audio track is not subscribed by another agent" in text
            for text in warnings
        ), warnings
        assert reported and reported[0][0] == "Tim", reported
        assert "Tim's audio track is not subscribed" in reported[0][1]
    finally:
        await tim.room.disconnect()
        await chris.room.disconnect()


async def test_an_agent_that_never_joins_ends_the_wait_with_the_missing_step(
    livekit_server: LocalServer,
) -> None:
    room_name = f"ready_watch_{time.monotonic_ns()}"
    tim, chris = _seat(TIM, CHRIS), _seat(CHRIS, TIM)
    try:
        await _join(livekit_server, room_name, tim, subscribe=True)
        with pytest.raises(SessionsNotReady, match="Tim has not seen Chris join the room"):
            await wait_until_ready(
                [tim, chris],
                lambda seat: _never_ready(),
                warn_s=0.2,
                nudge_every_s=0.2,
                give_up_s=0.5,
            )
    finally:
        await tim.room.disconnect()


def _never_ready() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


async def _sleep() -> None:
    await asyncio.sleep(0.05)
