"""Waiting for the room's hidden observer before the first line.

A dashboard (or ``dispatch-tui run``) that creates a room joins it as a hidden observer right
after; on a busy machine that join can take seconds, and LiveKit replays no transcript to a late
joiner, so every line said before it was lost to the screen. A scenario's ``observer_wait_s``
lets the call wait for it. The agents cannot see a hidden participant in the room, but the
server lists it (``ListParticipants`` with ``permission.hidden``), so the job polls for it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from livekit import api

logger = logging.getLogger("multi_agent_worker")

POLL_INTERVAL_S = 0.25
ASK_TIMEOUT_S = 5.0


async def observer_present(lkapi: api.LiveKitAPI, room: str) -> bool:
    """Whether a hidden participant that is no agent is in ``room`` and connected.

    Connected (``ACTIVE``), not only joined: livekit-server drops a data packet that carries no
    sequence number for a participant whose connection is not up yet (``SendDataMessage`` in
    ``pkg/rtc/participant.go`` of 1.13.5), and transcripts are data packets.
    """
    async with asyncio.timeout(ASK_TIMEOUT_S):
        reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(
        p.permission.hidden
        and p.kind != api.ParticipantInfo.AGENT
        and p.state == api.ParticipantInfo.ACTIVE
        for p in reply.participants
    )


async def wait_for_observer(
    lkapi: api.LiveKitAPI, room: str, timeout_s: float, poll_s: float = POLL_INTERVAL_S
) -> float | None:
    """Seconds until a hidden observer was in ``room``, or None after ``timeout_s`` (or when
    the server cannot be asked: the call must not hang on the observer)."""
    started = time.monotonic()
    deadline = started + timeout_s
    logger.info("Waiting up to %.0f s for the room's observer before the agents join", timeout_s)
    while True:
        try:
            if await observer_present(lkapi, room):
                waited = time.monotonic() - started
                logger.info("Observer present after %.2f s: the agents join", waited)
                return waited
        except Exception as exc:
            logger.warning("Could not list the room's participants (%s): the agents join", exc)
            return None
        if time.monotonic() + poll_s > deadline:
            logger.warning(
                "No observer joined within %.0f s: the agents join without one", timeout_s
            )
            return None
        await asyncio.sleep(poll_s)
