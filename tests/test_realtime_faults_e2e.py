"""The failures users meet on the realtime voice, injected by the stand-in of OpenAI's Realtime
API into one agent's session at a time, on a real livekit-server: the dashboard's checks and
``doctor`` each report the failure with its one-line fix, the other agent carries on, and the
call leaves nothing behind.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from helpers import scaled
from realtime_faults import Fault
from realtime_standin import RealtimeStandIn
from realtime_support import (
    AUDIBLE_DBFS,
    CHRIS,
    DUMMY_KEY,
    SHORT_SCRIPT,
    TIM,
    assert_fds_back,
    assert_nothing_left,
    create_call_room,
    dispatch_under_doctor,
    fresh,
    lines_of,
    realtime_watch,
    realtime_worker,
    short_scenario,
)

from tui.core.local_server import LocalServer
from tui.core.worker_runner import InProcessWorker

pytestmark = pytest.mark.e2e
IDENTITY = {"dispatcher": TIM, "driver": CHRIS}


@dataclass(frozen=True)
class Case:
    """A fault, the check that must report it, and how the call ends."""

    fault: Fault
    check: str
    status: str
    finding: str
    fix: str
    ended: tuple[str, ...]
    """How the relay may end the call (a session that fails to start can close or fail the
    first reply first, depending on timing)."""
    working: str | None
    """The agent that must carry on (None: the fault hits both)."""
    doctor_s: float = 10.0
    """How long doctor watches: a failing check keeps it to its deadline (the slowest fault,
    a late reply, shows about 9 s after the dispatch)."""


CASES = {
    # one key serves both agents: OpenAI refuses the handshake of both sessions
    "key rejected (401)": Case(
        Fault("http_401"),
        "openai.key",
        "fail",
        "WSServerHandshakeError: 401",
        "set a valid OPENAI_API_KEY and restart the worker",
        ("closed", "no_reply", "error"),
        None,
    ),
    # OpenAI's own answer to a bad key, in one session only: that session fails alone
    "one session's key rejected": Case(
        Fault("key_rejected", voice="echo"),
        "openai.realtime",
        "fail",
        "realtime connection failed: OpenAI Realtime API returned an error: invalid_api_key",
        "check the key, OPENAI_BASE_URL and network access to OpenAI",
        ("closed",),
        "dispatcher",
    ),
    "rate limited": Case(
        Fault("rate_limited", voice="echo", response=1),
        "openai.realtime",
        "warn",
        "OpenAI rate-limited a response",
        "raise the OpenAI account's rate limits",
        ("no_reply",),
        "dispatcher",
    ),
    "socket closed mid-response": Case(
        Fault("socket_closed", voice="echo", response=1),
        "openai.realtime",
        "warn",
        "recovered from: OpenAI Realtime API connection closed unexpectedly",
        "check the network path to OpenAI (OPENAI_BASE_URL)",
        ("goodbye",),
        "dispatcher",
    ),
    "error event": Case(
        Fault("error_event", voice="alloy", response=2),
        "openai.realtime",
        "warn",
        "OpenAI error: OpenAI Realtime API returned an error: The server had an error",
        "check status.openai.com",
        ("error",),
        "driver",
    ),
    "first audio delayed": Case(
        Fault("slow_first_audio", voice="echo", seconds=4.0),
        "voice.reply",
        "warn",
        "Chris's last reply began 4.",
        "the voice model answers slowly",
        ("goodbye",),
        "dispatcher",
        doctor_s=15.0,
    ),
}


@pytest.fixture(scope="module")
async def stand_in() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn(short_scenario()) as running:
        yield running


@pytest.fixture(scope="module")
async def worker(
    livekit_server: LocalServer, stand_in: RealtimeStandIn
) -> AsyncIterator[InProcessWorker]:
    async with realtime_worker(livekit_server, stand_in) as running:
        yield running


@pytest.mark.parametrize("name", list(CASES))
async def test_fault_is_reported_and_the_rest_keeps_working(
    name: str,
    livekit_server: LocalServer,
    stand_in: RealtimeStandIn,
    worker: InProcessWorker,
    tmp_path: Path,
) -> None:
    case = CASES[name]
    await fresh(stand_in, [case.fault], tmp_path / "standin.jsonl")
    threads_before = set(threading.enumerate())
    fds_before = psutil.Process().num_fds()
    room = await create_call_room(livekit_server, short_scenario(), dispatch=False)
    async with realtime_watch(livekit_server, room, worker) as watch:
        doctor = await dispatch_under_doctor(livekit_server, watch, scaled(case.doctor_s))

        # the dashboard's checks: the fault, with its fix
        shown = await watch.wait_for_check(case.check, case.status, case.finding, 30)
        assert case.fix in shown.fix, shown
        assert DUMMY_KEY not in shown.finding + shown.fix
        ended = await watch.wait_for_session("conversation_ended", 60)
        assert ended["reason"] in case.ended, ended
        if ended["reason"] == "goodbye":
            assert ended["turns"] == len(SHORT_SCRIPT)
        assert any("fault" in r for r in stand_in.client_events), "the fault was injected"

        # the other agent started, was heard and said its first line
        if case.working is not None:
            identity = IDENTITY[case.working]
            session = watch.checks()[f"session.{case.working}"]
            assert session.status == "ok" and identity in session.finding, session
            failing = "driver" if case.working == "dispatcher" else "dispatcher"
            if case.check == "openai.realtime" and case.status == "fail":
                assert watch.checks()[f"session.{failing}"].status == "fail"
            assert watch.loudest(identity) > AUDIBLE_DBFS
            assert watch.final_lines(identity)[:1] == lines_of(case.working)[:1]

        # doctor, watching from before the agents came, says the same with the same fix
        result = await doctor
        found = {check.id: check for check in result.checks}[case.check]
        assert found.status == case.status and case.finding in found.finding, found
        assert case.fix in found.fix and result.exit_code == 1
        if case.working is not None:
            assert {c.id: c for c in result.checks}[f"session.{case.working}"].status == "ok"

        # the dashboard is still observing, and the call left nothing behind
        assert watch.model.state.observer_state == "connected"
        await assert_nothing_left(livekit_server, room, stand_in, threads_before)
    await assert_fds_back(fds_before)
