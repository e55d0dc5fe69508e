"""The LiveKit server restarts (or goes away) while the dashboard's backend is mid-conversation.

A LocalServer with a fixed config (ports, key, secret) is stopped and started again on the same
ports, as a supervisor restarting livekit-server would. The backend runs the in-process worker
(offline voice) and the hidden observer, exactly as the dashboard does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from reliability_support import (
    CHRIS,
    HDX,
    TIM,
    Recorder,
    backend_for,
    job_threads,
    new_threads,
)

from tui.backend import Backend
from tui.events import ObserverStatus, ParticipantJoined
from tui.local_server import LocalServer, ServerConfig
from tui.state import RoomState

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30.0
BACKEND_MAX_RETRY = 3  # Backend._start_worker: server.update_options(max_retry=3)


def retry_budget_s(max_retry: int) -> float:
    """Seconds AgentServer keeps retrying before it gives up (livekit-agents 1.8.9).

    ``_connection_task`` sleeps ``min(retry_count * 2, 10)`` before each retry and raises once
    ``retry_count`` reaches ``max_retry``: 0 + 2 + 4 = 6 s for the backend's 3 retries.
    """
    return float(sum(min(count * 2, 10) for count in range(max_retry)))


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    """A server of our own: these tests stop it, which the shared one must never see."""
    local = LocalServer(ServerConfig.generate())
    await local.astart()
    try:
        yield local
    finally:
        await local.astop()


def joined_after_reconnecting(recorder: Recorder) -> set[str]:
    """Identities the observer saw join after it first reported ``reconnecting``."""
    events = recorder.snapshot()[0]
    marks = [
        index
        for index, event in enumerate(events)
        if isinstance(event, ObserverStatus) and event.state == "reconnecting"
    ]
    if not marks:
        return set()
    return {e.identity for e in events[marks[0] :] if isinstance(e, ParticipantJoined)}


async def start_conversation(backend: Backend, recorder: Recorder) -> tuple[str, str]:
    """Start the backend, create and observe a room, wait until both agents' sessions run.

    Returns the room name and the worker id it registered with.
    """
    await backend.start()
    worker = backend.worker
    assert worker is not None
    status = await worker.wait_registered(TIMEOUT_S)
    assert status.state == "registered", status
    created = await backend.create_room(HDX)
    await backend.observe(created.name)
    await recorder.wait_for(
        lambda: len(recorder.session_events(created.name, "session_started")) == 2 or None,
        TIMEOUT_S,
        "both agent sessions to start",
    )
    return created.name, status.worker_id


async def test_restart_mid_conversation_recovers_observer_worker_and_call(
    server: LocalServer,
) -> None:
    """Stop and restart the server during a call: nothing raises out of the backend, the
    observer reports reconnecting then recovers, the worker registers again under a new id,
    both agents are back in the room and the conversation goes on."""
    threads_before = set(threading.enumerate())
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    try:
        room, first_worker_id = await start_conversation(backend, recorder)
        turns_before = len(recorder.session_events(room, "turn"))

        # SIGTERM, then SIGKILL after 0.5 s: livekit-server otherwise drains its rooms for
        # seconds, and a crash is the harsher case anyway. Then start on the same ports.
        await asyncio.to_thread(server.stop, 0.5)
        down_at = asyncio.get_running_loop().time()
        await server.astart()
        outage_s = asyncio.get_running_loop().time() - down_at
        # The worker survives only outages shorter than its retry budget (see below).
        assert outage_s < retry_budget_s(BACKEND_MAX_RETRY), outage_s

        await recorder.wait_for(
            lambda: "reconnecting" in recorder.observer_states(room) or None,
            TIMEOUT_S,
            "the observer to report reconnecting",
        )
        states = await recorder.wait_for(
            lambda: (
                (
                    (s := recorder.observer_states(room))
                    and s[-1] in ("reconnected", "disconnected", "failed")
                    and s
                )
                or None
            ),
            TIMEOUT_S,
            "the observer to recover or give up",
        )
        if states[-1] != "reconnected":
            # The SDK gave up: the dashboard re-observes the room, which must work.
            await backend.observe(room)
            assert recorder.observer_states(room)[-1] == "connected"

        new_id = await recorder.wait_for(
            lambda: next((i for i in recorder.registered_ids() if i != first_worker_id), None),
            TIMEOUT_S,
            "the worker to register again",
        )
        assert new_id.startswith("AW_")
        assert recorder.workers[-1].state == "registered"

        # Both agents rejoined the recreated room and the call goes on.
        await recorder.wait_for(
            lambda: joined_after_reconnecting(recorder) >= {TIM, CHRIS} or None,
            TIMEOUT_S,
            "both agents to be seen again after the restart",
        )
        await recorder.wait_for(
            lambda: len(recorder.session_events(room, "turn")) > turns_before + 1 or None,
            TIMEOUT_S,
            "the conversation to continue after the restart",
        )
        state = RoomState(room)
        for event in recorder.snapshot()[0]:
            state.apply(event)
        assert state.observer_state in ("reconnected", "connected")
        dispatcher, driver = state.dispatcher(), state.driver()
        assert dispatcher is not None and dispatcher.connected
        assert driver is not None and driver.connected

        # The control plane works against the restarted server.
        assert room in {r.name for r in await backend.list_rooms()}
        await backend.delete_room(room)
    finally:
        await backend.aclose()
    for thread in job_threads():
        await asyncio.to_thread(thread.join, TIMEOUT_S)
    assert not job_threads(), "a job thread outlived the backend"
    assert not new_threads(threads_before), new_threads(threads_before)


async def test_outage_longer_than_the_retry_budget_is_reported_not_raised(
    server: LocalServer,
) -> None:
    """The server stays down past the worker's retries: the worker reports ``failed`` with a
    one-line reason, the observer reports losing the room, and once the server is back the
    backend can observe again and close cleanly; nothing raises out of the backend."""
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    try:
        room, _ = await start_conversation(backend, recorder)
        await asyncio.to_thread(server.stop, 0.5)
        failed = await recorder.wait_for(
            lambda: next((w for w in recorder.snapshot()[1] if w.state == "failed"), None),
            retry_budget_s(BACKEND_MAX_RETRY) + TIMEOUT_S,
            "the worker to give up",
        )
        assert "failed to connect to livekit" in failed.detail
        assert "\n" not in failed.detail
        assert "reconnecting" in recorder.observer_states(room)

        await server.astart()
        # The room is gone with the old server process; observing its name again joins a
        # fresh one (the server creates rooms on join), which proves the observer path works.
        await backend.observe(room)
        assert recorder.observer_states(room)[-1] == "connected"
        await backend.observe(None)
    finally:
        await backend.aclose()
    assert recorder.workers[-1].state == "stopped"
