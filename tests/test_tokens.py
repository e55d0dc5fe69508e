"""Observer and agent tokens: their claims, and what the real server lets them do."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import jwt
import pytest
from helpers import eventually, scaled
from livekit import api, rtc
from livekit.rtc.participant import PublishTrackError

from agents.tokens import OBSERVER_IDENTITY, agent_token, observer_token
from tui.core.local_server import LocalServer

KEY = "testkey"
SECRET = "a-test-secret-of-at-least-thirty-two-chars"


def _payload(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(
        token, SECRET, algorithms=["HS256"], issuer=KEY, options={"require": ["exp"]}
    )
    return decoded


def test_observer_claims_are_hidden_subscribe_only_and_short_lived() -> None:
    token = observer_token(KEY, SECRET, "room-a")
    claims = api.TokenVerifier(KEY, SECRET).verify(token)
    assert claims.identity == OBSERVER_IDENTITY
    assert claims.kind == "standard"
    video = claims.video
    assert video is not None
    assert (video.room_join, video.room, video.hidden) == (True, "room-a", True)
    assert (video.can_subscribe, video.can_publish, video.can_publish_data) == (True, False, False)
    payload = _payload(token)
    lifetime = int(str(payload["exp"])) - int(time.time())
    assert 9 * 60 <= lifetime <= 10 * 60 + 5


def test_agent_claims_are_room_scoped_agent_kind_with_attributes() -> None:
    token = agent_token(
        KEY,
        SECRET,
        "room-b",
        "driver-chris",
        "Chris",
        {"dispatch.role": "driver"},
        ttl=timedelta(minutes=5),
    )
    claims = api.TokenVerifier(KEY, SECRET).verify(token)
    assert (claims.identity, claims.name, claims.kind) == ("driver-chris", "Chris", "agent")
    assert claims.attributes == {"dispatch.role": "driver"}
    video = claims.video
    assert video is not None
    assert (video.room_join, video.room) == (True, "room-b")
    assert video.can_publish and video.can_subscribe and video.can_update_own_metadata
    assert not video.room_admin and not video.room_create and not video.hidden


# --- against the real server -------------------------------------------------------------------


def _standard_token(server: LocalServer, room: str, identity: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


@pytest.fixture
async def room_name(livekit_server: LocalServer) -> AsyncIterator[str]:
    name = f"tokens-{uuid.uuid4().hex[:8]}"
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=name))
        yield name
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))


async def _participants(server: LocalServer, room: str) -> dict[str, api.ParticipantInfo]:
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return {p.identity: p for p in reply.participants}


async def test_observer_is_hidden_and_cannot_publish(
    livekit_server: LocalServer, room_name: str
) -> None:
    # Join order matters: the server announces a participant that has not published anything
    # only with its batched updates (about 3 s later), but a join response lists everyone
    # present at once. So `early` is in the observer's join response and the observer would be
    # in `late`'s join response if it were not hidden.
    early, observer, late = rtc.Room(), rtc.Room(), rtc.Room()
    token = observer_token(livekit_server.api_key, livekit_server.api_secret, room_name)
    try:
        await early.connect(livekit_server.url, _standard_token(livekit_server, room_name, "early"))
        await observer.connect(livekit_server.url, token)
        await late.connect(livekit_server.url, _standard_token(livekit_server, room_name, "late"))
        assert "early" in observer.remote_participants
        assert "early" in late.remote_participants
        assert OBSERVER_IDENTITY not in late.remote_participants
        assert OBSERVER_IDENTITY not in early.remote_participants

        info = (await _participants(livekit_server, room_name))[OBSERVER_IDENTITY]
        assert info.permission.hidden and not info.permission.can_publish

        source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("observer-mic", source)
        # The server ignores the publish request, so the SDK waits for an answer that never
        # comes (about 10 s): a short timeout is the failure we expect.
        with pytest.raises((TimeoutError, PublishTrackError)):
            await asyncio.wait_for(observer.local_participant.publish_track(track), scaled(1.0))
        info = (await _participants(livekit_server, room_name))[OBSERVER_IDENTITY]
        assert list(info.tracks) == []
    finally:
        for room in (early, observer, late):
            await room.disconnect()


async def test_observer_data_never_reaches_others(
    livekit_server: LocalServer, room_name: str
) -> None:
    observer, normal, sender = rtc.Room(), rtc.Room(), rtc.Room()
    received: list[bytes] = []
    normal.on("data_received", lambda packet: received.append(packet.data))
    try:
        await normal.connect(
            livekit_server.url, _standard_token(livekit_server, room_name, "normal")
        )
        await sender.connect(
            livekit_server.url, _standard_token(livekit_server, room_name, "sender")
        )
        await observer.connect(
            livekit_server.url,
            observer_token(livekit_server.api_key, livekit_server.api_secret, room_name),
        )
        await eventually(lambda: "normal" in observer.remote_participants, 5, "normal joined")
        await observer.local_participant.publish_data(b"from the observer", reliable=True)
        # positive control: a standard participant's packet, sent afterwards, does arrive; once
        # it has, the observer's (sent first) would have too
        await sender.local_participant.publish_data(b"control", reliable=True)
        await eventually(lambda: b"control" in received, 5, "the control packet")
        assert received == [b"control"]
    finally:
        for room in (observer, sender, normal):
            await room.disconnect()


async def test_agent_token_joins_as_agent_and_updates_its_attributes(
    livekit_server: LocalServer, room_name: str
) -> None:
    agent, observer = rtc.Room(), rtc.Room()
    token = agent_token(
        livekit_server.api_key,
        livekit_server.api_secret,
        room_name,
        "driver-chris",
        "Chris",
        {"dispatch.role": "driver"},
    )
    try:
        await observer.connect(
            livekit_server.url,
            observer_token(livekit_server.api_key, livekit_server.api_secret, room_name),
        )
        await agent.connect(livekit_server.url, token)
        # Needs can_update_own_metadata: this is how a session publishes lk.agent.state.
        await agent.local_participant.set_attributes({"lk.agent.state": "listening"})

        def seen() -> bool:
            remote = observer.remote_participants.get("driver-chris")
            return remote is not None and remote.attributes.get("lk.agent.state") == "listening"

        await eventually(seen, 5, "the agent's attributes")
        remote = observer.remote_participants["driver-chris"]
        assert remote.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        assert remote.name == "Chris"
        assert remote.attributes["dispatch.role"] == "driver"
    finally:
        await agent.disconnect()
        await observer.disconnect()


async def test_token_signed_with_another_secret_is_refused(
    livekit_server: LocalServer, room_name: str
) -> None:
    room = rtc.Room()
    token = observer_token(livekit_server.api_key, "x" * 40, room_name)
    try:
        with pytest.raises(rtc.ConnectError):
            await room.connect(livekit_server.url, token)
        assert OBSERVER_IDENTITY not in await _participants(livekit_server, room_name)
    finally:
        await room.disconnect()
