"""A longer signal-connect attempt for the agents' rooms.

livekit rtc 1.1.21 gives each signal connection attempt 5 s, then retries with the same token.
Measured with ten calls starting at once beside a CPU burner on 2 cores: Tim's first attempt
was still joining at 5 s while the server had already accepted it, the retry joined as a second
``dispatcher-tim``, the server removed the first as a ``DUPLICATE_IDENTITY``, and the SDK closed
the room's engine: the job ended ~10 s in and its call never started. An agent's join is worth
waiting for, so every agent room connects with a longer attempt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Final

from livekit import rtc

AGENT_CONNECT_TIMEOUT_S: Final = 20.0


def with_connect_timeout(options: rtc.RoomOptions | None = None) -> rtc.RoomOptions:
    """``options`` (or the defaults) with the agents' connect timeout, unless one is set."""
    options = options or rtc.RoomOptions()
    if options.connect_timeout is not None:
        return options
    return dataclasses.replace(options, connect_timeout=AGENT_CONNECT_TIMEOUT_S)


def patient_connects(room: rtc.Room) -> None:
    """Make every ``room.connect()`` use :func:`with_connect_timeout` (the job's room is
    connected by ``JobContext.connect()``, which takes no connect timeout)."""
    original: Callable[..., Awaitable[None]] = room.connect

    async def connect(url: str, token: str, options: rtc.RoomOptions | None = None) -> None:
        await original(url, token, options=with_connect_timeout(options))

    room.connect = connect  # type: ignore[method-assign]
