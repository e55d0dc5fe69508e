"""The LiveKit server restarts (or goes away) while the dashboard's backend is mid-conversation.

A LocalServer with a fixed config (ports, key, secret) is stopped and started again on the same
ports, as a supervisor restarting livekit-server would. The backend runs the in-process worker
(offline voice) and the hidden observer, exactly as the dashboard does.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from helpers import job_threads
from reliability_support import (
    CHRIS,
    HDX,
    TIM,
    Recorder,
    backend_for,
    new_threads,
    wait_until_jobs_dispatched,
)

from tui.core import worker_runner
from tui.core.backend import Backend
from tui.core.events import ObserverStatus, ParticipantJoined
from tui.core.local_server import LocalServer
from tui.core.state import RoomState
from tui.core.worker_runner import REGISTER_TIMEOUT_S, WorkerStatus, retry_budget_s

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30.0
OLD_MAX_RETRY = 3
"""The retries the dashboard's worker used to get: it gave up after 0 + 2 + 4 = 6 s."""
LONG_OUTAGE_S = 10.0
"""An outage well past that old budget (a slow restart, a supervisor's back-off)."""


@pytest.fixture
def server(own_server: LocalServer) -> LocalServer:
    """A server of our own: these tests stop it, which the shared one must never see."""
    return own_server


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


def worker_states(recorder: Recorder) -> list[str]:
    return [status.state for status in recorder.snapshot()[1]]


def first_worker_status(recorder: Recorder, state: str) -> WorkerStatus | None:
    return next((w for w in recorder.snapshot()[1] if w.state == state), None)


async def start_conversation(
    server: LocalServer, backend: Backend, recorder: Recorder
) -> tuple[str, str]:
    """Start the backend, create and observe a room, wait until both agents' sessions run.

    Returns the room name and the worker id it registered with.
    """
    await backend.start()
    worker = backend.worker
    assert worker is not None
    status = await worker.wait_registered(TIMEOUT_S)
    assert status.state == "registered", status
    await wait_until_jobs_dispatched(server, TIMEOUT_S)
    created = await backend.create_room(HDX)
    await backend.observe(created.name)
    await both_sessions_started(recorder, created.name)
    return created.name, status.worker_id


async def both_sessions_started(recorder: Recorder, room: str) -> None:
    await recorder.wait_for(
        lambda: len(recorder.session_events(room, "session_started")) == 2 or None,
        TIMEOUT_S,
        f"both agent sessions to start in {room}",
    )


async def registered_again(recorder: Recorder, first_worker_id: str) -> str:
    new_id = await recorder.wait_for(
        lambda: next((i for i in recorder.registered_ids() if i != first_worker_id), None),
        TIMEOUT_S,
        "the worker to register again",
    )
    assert new_id.startswith("AW_")
    assert recorder.workers[-1].state == "registered"
    return new_id


async def test_restart_mid_conversation_recovers_observer_worker_and_call(
    server: LocalServer,
) -> None:
    """Stop and restart the server during a call: nothing raises out of the backend, the
    observer reports reconnecting then recovers, the worker reports reconnecting then registers
    again under a new id, both agents are back in the room and the conversation goes on."""
    threads_before = set(threading.enumerate())
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    try:
        room, first_worker_id = await start_conversation(server, backend, recorder)
        turns_before = len(recorder.session_events(room, "turn"))

        # SIGTERM, then SIGKILL after 0.5 s: livekit-server otherwise drains its rooms for
        # seconds, and a crash is the harsher case anyway. Then start on the same ports.
        await asyncio.to_thread(server.stop, 0.5)
        await server.astart()

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

        await registered_again(recorder, first_worker_id)
        assert worker_states(recorder)[:2] == ["starting", "registered"]
        assert "reconnecting" in worker_states(recorder)[2:-1]
        assert "failed" not in worker_states(recorder)

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


async def test_worker_outlives_a_long_outage_reporting_reconnecting(server: LocalServer) -> None:
    """The server stays down for 10 s, longer than the 6 s the worker used to retry: the worker
    reports ``reconnecting`` (never ``failed``) all along, registers again once the server is
    back, and takes the next call."""
    assert retry_budget_s(OLD_MAX_RETRY) < LONG_OUTAGE_S
    threads_before = set(threading.enumerate())
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    try:
        _, first_worker_id = await start_conversation(server, backend, recorder)
        await asyncio.to_thread(server.stop, 0.5)
        lost = await recorder.wait_for(
            lambda: first_worker_status(recorder, "reconnecting"),
            TIMEOUT_S,
            "the worker to report reconnecting",
        )
        assert lost.worker_id == first_worker_id
        assert "lost the LiveKit server" in lost.detail and "\n" not in lost.detail

        # The outage itself is what is tested: the server stays down this long.
        await asyncio.sleep(LONG_OUTAGE_S)
        assert backend.worker is not None and backend.worker.status.state == "reconnecting"
        assert "failed" not in worker_states(recorder)

        await server.astart()
        await registered_again(recorder, first_worker_id)
        assert "failed" not in worker_states(recorder)

        # The worker serves the restarted server: a new room gets its call.
        await wait_until_jobs_dispatched(server, TIMEOUT_S)
        created = await backend.create_room(HDX)
        await backend.observe(created.name)
        await both_sessions_started(recorder, created.name)
        await backend.delete_room(created.name)
    finally:
        await backend.aclose()
    for thread in job_threads():
        await asyncio.to_thread(thread.join, TIMEOUT_S)
    assert not job_threads(), "a job thread outlived the backend"
    assert not new_threads(threads_before), new_threads(threads_before)


async def test_outage_longer_than_the_retry_budget_is_reported_not_raised(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stays down past the worker's retries (shortened here from about an hour to
    6 s): the worker reports ``failed`` with a one-line reason, the observer reports losing the
    room, and once the server is back the backend can observe again and close cleanly; nothing
    raises out of the backend."""
    monkeypatch.setattr(worker_runner, "RECONNECT_MAX_RETRY", OLD_MAX_RETRY)
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    try:
        room, _ = await start_conversation(server, backend, recorder)
        await asyncio.to_thread(server.stop, 0.5)
        failed = await recorder.wait_for(
            lambda: first_worker_status(recorder, "failed"),
            retry_budget_s(OLD_MAX_RETRY) + TIMEOUT_S,
            "the worker to give up",
        )
        assert "failed to connect to livekit" in failed.detail
        assert "\n" not in failed.detail
        assert worker_states(recorder)[-2:] == ["reconnecting", "failed"]
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


async def test_unreachable_server_at_start_fails_within_the_register_timeout(
    server: LocalServer,
) -> None:
    """A worker that cannot register at all says ``failed`` after REGISTER_TIMEOUT_S, not
    after the hour of retries a lost server gets, and closes cleanly."""
    await server.astop()  # the URL and key are right, but nobody answers
    recorder = Recorder(asyncio.get_running_loop())
    backend = backend_for(server, recorder)
    started = time.monotonic()
    try:
        await backend.start()
        assert backend.worker is not None
        status = await backend.worker.wait_registered(REGISTER_TIMEOUT_S + TIMEOUT_S)
        took = time.monotonic() - started
        assert status.state == "failed"
        assert "failed to connect to livekit" in status.detail and "\n" not in status.detail
        assert took < REGISTER_TIMEOUT_S + 5, took
    finally:
        await backend.aclose()
    assert worker_states(recorder) == ["starting", "failed", "stopped"]
