"""One agent drops out of a call: the server removes Chris (RoomService.RemoveParticipant), as it
would after a kick, a lost network or a crashed process whose connection timed out.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from helpers import job_threads, pending_task_stacks
from livekit import api
from reliability_support import (
    CHRIS,
    TIM,
    Recorder,
    backend_for,
    new_threads,
    wait_until_jobs_dispatched,
    write_scenario,
)

from tui.core.events import ObserverStatus, ParticipantLeft
from tui.core.local_server import LocalServer
from tui.core.state import RoomState

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30.0


async def test_driver_removed_mid_call_shows_missing_and_ends_the_job_cleanly(
    livekit_server: LocalServer, tmp_path: Path
) -> None:
    """Chris is removed mid-call: the observer reports him gone (the pane shows the driver
    missing), Tim's session and the job end cleanly with no thread left, and the observer and
    control plane keep working."""
    scenario = write_scenario(
        tmp_path / "drop.json",
        [f"Line {n} of a call long enough to be cut off in the middle." for n in range(12)],
        max_turns=12,
    )
    threads_before = set(threading.enumerate())
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(livekit_server, recorder)
    try:
        await backend.start()
        assert backend.worker is not None
        assert (await backend.worker.wait_registered(TIMEOUT_S)).state == "registered"
        await wait_until_jobs_dispatched(livekit_server, TIMEOUT_S)
        created = await backend.create_room(scenario)
        room = created.name
        await backend.observe(room)
        await recorder.wait_for(
            lambda: recorder.session_events(room, "turn") or None,
            TIMEOUT_S,
            "the conversation to be under way",
        )
        state = RoomState(room)
        for event in recorder.snapshot()[0]:
            state.apply(event)
        driver = state.driver()
        assert driver is not None and driver.connected and driver.identity == CHRIS

        async with api.LiveKitAPI(
            livekit_server.url, livekit_server.api_key, livekit_server.api_secret
        ) as lkapi:
            await lkapi.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=CHRIS)
            )

        def left(identity: str) -> ParticipantLeft | None:
            return next(
                (
                    e
                    for e in recorder.snapshot()[0]
                    if isinstance(e, ParticipantLeft) and e.identity == identity
                ),
                None,
            )

        await recorder.wait_for(lambda: left(CHRIS), TIMEOUT_S, "Chris to be reported gone")
        state = RoomState(room)
        for event in recorder.snapshot()[0]:
            state.apply(event)
        driver = state.driver()
        assert driver is not None and not driver.connected, "the pane shows the driver left"
        assert "driver" in state.missing_roles()

        # The job notices (Chris's room is disconnected) and ends: Tim leaves, both sessions
        # close, the relay reports the end of the conversation.
        await recorder.wait_for(lambda: left(TIM), TIMEOUT_S, "Tim to leave as the job ends")
        ended = await recorder.wait_for(
            lambda: recorder.session_events(room, "conversation_ended") or None,
            TIMEOUT_S,
            "the conversation to end",
        )
        assert ended[0].payload["reason"] != "goodbye", "the call was cut short"
        closed = await recorder.wait_for(
            lambda: (
                (
                    (c := {s.role for s in recorder.session_events(room, "session_closed")})
                    >= {"dispatcher", "driver"}
                    and c
                )
                or None
            ),
            TIMEOUT_S,
            "both sessions to close",
        )
        assert closed >= {"dispatcher", "driver"}
        for thread in job_threads():
            await asyncio.to_thread(thread.join, TIMEOUT_S)
        assert not job_threads(), "the job thread ended; pending:\n" + pending_task_stacks()

        # The dashboard side keeps working: still observing, the control plane answers.
        observer_states = [
            e.state
            for e in recorder.snapshot()[0]
            if isinstance(e, ObserverStatus) and e.room == room
        ]
        assert observer_states[-1] == "connected", observer_states
        assert room in {r.name for r in await backend.list_rooms()}
        await backend.delete_room(room)
    finally:
        await backend.aclose()
    assert not new_threads(threads_before), new_threads(threads_before)
