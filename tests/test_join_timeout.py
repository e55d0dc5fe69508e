"""The agents' rooms connect with a longer signal attempt (``agents.join_timeout``)."""

from __future__ import annotations

from typing import Any

import pytest
from livekit import rtc

from agents.join_timeout import AGENT_CONNECT_TIMEOUT_S, patient_connects, with_connect_timeout
from agents.tokens import observer_token
from tui.core.local_server import LocalServer


def test_defaults_get_the_agents_timeout_and_a_set_one_is_kept() -> None:
    assert with_connect_timeout().connect_timeout == AGENT_CONNECT_TIMEOUT_S
    assert AGENT_CONNECT_TIMEOUT_S > 5  # the SDK's own 5 s per attempt is what failed
    kept = with_connect_timeout(rtc.RoomOptions(connect_timeout=3.0, auto_subscribe=False))
    assert (kept.connect_timeout, kept.auto_subscribe) == (3.0, False)
    other = with_connect_timeout(rtc.RoomOptions(auto_subscribe=False))
    assert (other.connect_timeout, other.auto_subscribe) == (AGENT_CONNECT_TIMEOUT_S, False)


class _RecordingRoom:
    """Stands in for rtc.Room's connect only, to see the options a caller's connect passes."""

    def __init__(self) -> None:
        self.options: list[Any] = []

    async def connect(self, url: str, token: str, options: Any = None) -> None:
        self.options.append(options)


async def test_a_patched_room_connects_with_the_agents_timeout() -> None:
    room = _RecordingRoom()
    patient_connects(room)  # type: ignore[arg-type]
    await room.connect("ws://127.0.0.1:1", "token")  # as JobContext.connect() calls it
    await room.connect("ws://127.0.0.1:1", "token", options=rtc.RoomOptions(auto_subscribe=False))
    assert [o.connect_timeout for o in room.options] == [AGENT_CONNECT_TIMEOUT_S] * 2
    assert room.options[1].auto_subscribe is False


@pytest.mark.e2e
async def test_a_patched_real_room_still_joins(livekit_server: LocalServer) -> None:
    server, room = livekit_server, rtc.Room()
    patient_connects(room)
    token = observer_token(server.api_key, server.api_secret, "join_timeout_room")
    await room.connect(server.url, token)
    try:
        assert room.isconnected()
    finally:
        await room.disconnect()
