"""Waiting for every agent's session to be ready before the first line, saying what is missing.

A session is ready when its linked agent is in its room and its audio track is published and
subscribed by another agent (the SDK's audio output waits for that subscription, with no
timeout and no log line; a hidden observer's subscription does not count). Once, in ten calls
at once on a busy machine, a call's agents joined and started and Tim never said a word: this
wait had hung. Now the wait logs which step is missing, asks the other agents' rooms to
subscribe again, and gives up with a reason instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from livekit import rtc

from agents.call_seats import Seat

logger = logging.getLogger("multi_agent_worker")

READY_WARN_S = 10.0
"""How long the sessions may take to be ready before what is missing is logged."""
READY_NUDGE_EVERY_S = 10.0
"""How often, once late, the other agents' rooms are asked to subscribe to a late track again."""
READY_GIVE_UP_S = 120.0
"""How long the call waits for its sessions before it ends with the reason: ten calls starting
at once beside a CPU burner on 2 cores had a call wait 47 s for its subscriptions."""


class SessionsNotReady(RuntimeError):
    """Some agent's session never became ready: the message says which and what is missing."""


def _audio_publications(participant: rtc.Participant) -> list[rtc.TrackPublication]:
    return [
        pub
        for pub in participant.track_publications.values()
        if pub.kind == rtc.TrackKind.KIND_AUDIO
    ]


def _heard_by(seat: Seat, listener: Seat) -> rtc.RemoteTrackPublication | None:
    """``seat``'s audio publication as ``listener``'s room knows it, if it does."""
    speaker = listener.room.remote_participants.get(seat.persona.identity)
    if speaker is None:
        return None
    for pub in _audio_publications(speaker):
        if isinstance(pub, rtc.RemoteTrackPublication):
            return pub
    return None


def missing_step(seat: Seat, seats: Sequence[Seat]) -> str:
    """What ``seat``'s session still waits for, in words."""
    name = seat.persona.name
    linked = next((s.persona.name for s in seats if s.persona.identity == seat.linked), seat.linked)
    if seat.linked not in seat.room.remote_participants:
        return f"{name} has not seen {linked} join the room"
    if not _audio_publications(seat.room.local_participant):
        return f"{name}'s audio track is not published yet"
    views = []
    for listener in seats:
        if listener is seat:
            continue
        pub = _heard_by(seat, listener)
        state = (
            "does not see the track"
            if pub is None
            else "subscribed, unconfirmed"
            if pub.subscribed
            else "not subscribed"
        )
        views.append(f"{listener.persona.name}: {state}")
    return f"{name}'s audio track is not subscribed by another agent ({'; '.join(views)})"


def _resubscribe(seat: Seat, seats: Sequence[Seat]) -> None:
    """Ask every other agent's room that sees ``seat``'s audio track and has not received it
    to subscribe to it (again: the request is idempotent). A subscription already received but
    not yet confirmed to the publisher is left alone: asking again would restart it."""
    for listener in seats:
        pub = _heard_by(seat, listener) if listener is not seat else None
        if pub is not None and not pub.subscribed:
            pub.set_subscribed(True)


def session_ready(seat: Seat) -> Awaitable[None]:
    """The SDK's own readiness of ``seat``'s session (linked agent found, audio subscribed)."""
    assert seat.session is not None
    return seat.session.room_io.wait_for_ready()


async def wait_until_ready(
    seats: Sequence[Seat],
    ready: Callable[[Seat], Awaitable[None]] = session_ready,
    warn_s: float = READY_WARN_S,
    nudge_every_s: float = READY_NUDGE_EVERY_S,
    give_up_s: float = READY_GIVE_UP_S,
    report: Callable[[Seat, str], None] | None = None,
) -> None:
    """Return once every seat's session is ready; log what is missing after ``warn_s`` (and
    every ``nudge_every_s``, asking for the late tracks again) and hand it to ``report`` per
    late seat (the job publishes it as a session event, which any observer of the room sees);
    raise :class:`SessionsNotReady` after ``give_up_s``."""
    waits = {asyncio.ensure_future(ready(seat)): seat for seat in seats}
    started = time.monotonic()
    timeout = warn_s
    try:
        while True:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            if not pending:
                return
            late = [waits[task] for task in pending]
            waited = time.monotonic() - started
            steps = {seat.persona.identity: missing_step(seat, seats) for seat in late}
            missing = "; ".join(steps.values())
            if waited >= give_up_s:
                raise SessionsNotReady(f"agents not ready after {waited:.1f} s: {missing}")
            logger.warning(
                "Room %s: agents not ready after %.1f s: %s. Asking for the audio tracks again",
                seats[0].room.name,
                waited,
                missing,
            )
            for seat in late:
                if report is not None:
                    report(seat, f"not ready after {waited:.0f} s: {steps[seat.persona.identity]}")
                _resubscribe(seat, seats)
            timeout = min(nudge_every_s, max(0.0, give_up_s - waited))
    finally:
        # only when given up or cancelled: the call is ending, its sessions with it
        for task in waits:
            task.cancel()
