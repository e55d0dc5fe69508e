"""The realtime voice end to end: the guide's configuration (two OpenAI realtime sessions) on a
real livekit-server, the plugin talking to the local stand-in of OpenAI's Realtime API
(``tests/realtime_standin.py``), watched as the dashboard watches a call, and in the real app.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from call_watch import overlaps
from helpers import eventually
from realtime_faults import Fault
from realtime_standin import RealtimeStandIn
from realtime_support import (
    AUDIBLE_DBFS,
    CHRIS,
    DUMMY_KEY,
    MODEL,
    SHORT_SCRIPT,
    TIM,
    assert_fds_back,
    assert_nothing_left,
    create_call_room,
    fresh,
    lines_of,
    realtime_watch,
    realtime_worker,
    short_scenario,
)
from textual.widgets import OptionList

from tui.core.diagnostics import Check
from tui.core.latency import LatencyBook
from tui.core.local_server import LocalServer
from tui.core.log_bridge import LogCapture
from tui.core.scenario_catalog import BUILTIN_SCENARIOS, load_catalog
from tui.core.settings import DashboardOptions
from tui.core.worker_runner import InProcessWorker
from tui.ui.app import DispatchApp
from tui.ui.screens.diagnostics import DiagnosticsScreen
from tui.ui.screens.scenario_picker import ScenarioPicker
from tui.ui.widgets.agent_pane import AgentPane
from tui.ui.widgets.diagnostics_panel import CheckRow

pytestmark = pytest.mark.e2e
OVERLAP_SLACK_S = 0.3
"""Each agent's audio reaches the observer on its own track, through its own jitter buffer, and
a level report covers 0.1 s: beside a burner a hand-over the worker timed as a gap was heard
with 0.12 s of overlap. A floor that fails plays two lines together: seconds. The worker's turn
timings check the hand-over exactly."""


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


async def test_a_realtime_call_completes_with_both_agents_audible_in_turns(
    livekit_server: LocalServer, stand_in: RealtimeStandIn, worker: InProcessWorker, tmp_path: Path
) -> None:
    log = tmp_path / "standin.jsonl"
    await fresh(stand_in, log_path=log)
    threads_before = set(threading.enumerate())
    fds_before = psutil.Process().num_fds()
    room = await create_call_room(livekit_server, short_scenario(), dispatch=True)
    async with realtime_watch(livekit_server, room, worker) as watch:
        alarms: list[Check] = []
        not_ok: list[Check] = []

        def all_ok() -> bool:
            checks = watch.checks()
            alarms.extend(c for c in checks.values() if c.status in ("warn", "fail"))
            not_ok[:] = [c for c in checks.values() if c.status != "ok"]
            return not not_ok

        # the dashboard's checks pass while the call goes on, with no false alarm on the way
        with contextlib.suppress(AssertionError):  # the assertions below say what is wrong
            await eventually(all_ok, 30, "every check to pass during the call")
        assert not not_ok, not_ok
        assert not alarms, alarms
        ended = await watch.wait_for_session("conversation_ended", 60)
        assert ended["reason"] == "goodbye" and ended["turns"] == len(SHORT_SCRIPT), ended
        await assert_nothing_left(livekit_server, room, stand_in, threads_before)

        # both agents were heard saying their lines, word for word, in turn
        assert watch.final_lines(TIM) == lines_of("dispatcher")
        assert watch.final_lines(CHRIS) == lines_of("driver")
        assert watch.loudest(TIM) > AUDIBLE_DBFS and watch.loudest(CHRIS) > AUDIBLE_DBFS
        turns = watch.sessions("turn")
        assert [(t["index"], t["text"]) for t in turns] == list(
            enumerate(text for _, text in SHORT_SCRIPT)
        )
        gaps = [
            b["started_speaking_at"] - a["stopped_speaking_at"]
            for a, b in itertools.pairwise(turns)
        ]
        assert all(gap > 0 for gap in gaps), gaps
        # as heard: each agent's state attribute reaches the observer on its own signal path,
        # so their order can flip under load; the audio is what a listener hears
        heard = [watch.audible_intervals(who, AUDIBLE_DBFS) for who in (TIM, CHRIS)]
        assert not overlaps(*heard, OVERLAP_SLACK_S), heard
        assert len(watch.speaking_intervals(TIM)) == len(watch.speaking_intervals(CHRIS)) == 3

        # per-turn latency reaches the dashboard: every turn is timed, and the panes' book reads it
        book = LatencyBook()
        for event in watch.events:
            if getattr(event, "kind", "") == "turn":
                assert book.record_turn(room, event.role, event.payload)  # type: ignore[attr-defined]
        for role in ("dispatcher", "driver"):
            assert book.summary(room, role).startswith("reply "), book.summary(room, role)
        print(f"\nturn gaps (s): {[round(g, 3) for g in gaps]}")
        print(f"reply latency (s): {[round(t['e2e_latency'], 3) for t in turns]}")

        # each session configured with its own voice and model; temperature goes nowhere
        started = {
            r: p["voice"]
            for r, p in zip(
                ("dispatcher", "driver"),
                [
                    watch.sessions("session_started", "dispatcher")[0],
                    watch.sessions("session_started", "driver")[0],
                ],
                strict=True,
            )
        }
        assert started["dispatcher"] == {
            "mode": "realtime",
            "model": MODEL,
            "voice": "alloy",
            "temperature": 0.8,
            "temperature_applied": False,
        }
        assert started["driver"]["voice"] == "echo" and started["driver"]["temperature"] == 0.7
    _check_the_stand_ins_log(log)
    await assert_fds_back(fds_before)


def _check_the_stand_ins_log(log: Path) -> None:
    """What the two sessions sent, as the stand-in logged it."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    connects = {r["connection"]: r["connect"] for r in records if "connect" in r}
    configs: dict[int, dict[str, object]] = {}
    for record in records:
        event = record.get("event", {})
        if event.get("type") == "session.update":
            configs.setdefault(record["connection"], {}).update(event["session"])
    voice_of = {
        connection: config["audio"]["output"]["voice"]  # type: ignore[index]
        for connection, config in configs.items()
        if isinstance(config.get("audio"), dict)
    }
    assert sorted(voice_of.values()) == ["alloy", "echo"], voice_of
    for connection, voice in voice_of.items():
        name = "Tim" if voice == "alloy" else "Chris"
        assert connects[connection] == {"path": "/v1/realtime", "model": MODEL, "key": True}
        assert configs[connection]["model"] == MODEL
        assert str(configs[connection]["instructions"]).startswith(f"You are {name},")
    # plugin 1.8.9 never sends a temperature: the Realtime GA protocol has no such field
    assert not [r for r in records if "temperature" in json.dumps(r.get("event", {}))]
    assert DUMMY_KEY not in log.read_text(), "the key is never logged"
    # the relay hands each agent the other's line as a user message
    heard: dict[str, list[str]] = {"alloy": [], "echo": []}
    for record in records:
        event = record.get("event", {})
        item = event.get("item", {})
        if event.get("type") == "conversation.item.create" and item.get("role") == "user":
            heard[voice_of[record["connection"]]].append(item["content"][0]["text"])
    assert heard["echo"] == lines_of("dispatcher")
    assert heard["alloy"] == lines_of("driver")[:-1]  # Chris's goodbye ends the call


# --------------------------------------------------------------------------- the real app


async def test_the_dashboard_shows_realtime_latency_and_a_rejected_key(
    tmp_path: Path, stand_in: RealtimeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", stand_in.base_url)
    await fresh(stand_in)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "realtime-test.json").write_text(short_scenario().to_json())
    capture = LogCapture(tmp_path / "dispatch-tui.log")
    capture.start()
    options = DashboardOptions(None, (scenarios,), no_worker=False, voice="realtime")
    app = DispatchApp(options, capture)
    try:
        async with app.run_test(size=(170, 50)) as pilot:

            async def until(condition: object, what: str, timeout_s: float = 45) -> None:
                await eventually(condition, timeout_s, what, pause=pilot.pause)  # type: ignore[arg-type]

            async def new_call() -> str:
                entries = load_catalog([BUILTIN_SCENARIOS, scenarios])
                index = next(i for i, e in enumerate(entries) if e.path.parent == scenarios)
                before = app.state.room
                await pilot.press("n")
                await until(lambda: isinstance(app.screen, ScenarioPicker), "the picker")
                app.screen.query_one(OptionList).highlighted = index
                await pilot.press("enter")
                await until(lambda: app.state.room not in ("", before), "the new room")
                return app.state.room

            def pane(role: str) -> AgentPane:
                return app.query_one(f"#pane-{role}", AgentPane)

            await until(lambda: app.worker_status.state == "registered", "the worker")
            await new_call()
            await until(
                lambda: (
                    "reply" in pane("dispatcher").info_text and "reply" in pane("driver").info_text
                ),
                "per-turn reply latency in both panes",
            )
            await pilot.press("t")
            await until(lambda: isinstance(app.screen, DiagnosticsScreen), "the checks screen")
            row = app.screen.query_one("#check-voice-reply", CheckRow)
            await until(lambda: "Tim" in str(row.render()), "the reply latency check")
            assert "ok" in str(row.render())
            await pilot.press("escape")

            # Chris's key is refused: the checks say so with the fix; Tim and the app go on
            await fresh(stand_in, [Fault("key_rejected", voice="echo")])
            room = await new_call()
            await until(
                lambda: app.diagnostics.facts(time.monotonic()).key_rejected,
                "the rejected key to reach the dashboard",
            )
            await pilot.press("t")
            await until(lambda: isinstance(app.screen, DiagnosticsScreen), "the checks screen")
            key_row = str(app.screen.query_one("#check-openai-key", CheckRow).render())
            assert "OpenAI rejected the key" in key_row and "invalid_api_key" in key_row
            assert "fix: set a valid OPENAI_API_KEY and restart the worker" in key_row
            assert DUMMY_KEY not in key_row
            session_row = str(app.screen.query_one("#check-session-dispatcher", CheckRow).render())
            assert "ok" in session_row, session_row
            await pilot.press("escape")
            await until(
                lambda: lines_of("dispatcher")[0] in pane("dispatcher").transcript_plain,
                "Tim's first line on screen",
            )
            assert app.state.room == room
    finally:
        capture.close()
