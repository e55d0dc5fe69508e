"""``dispatch-tui replay RUN_DIR``: the dashboard on a recorded call with no server.

A real call is recorded the way a ``--no-worker`` dashboard records it (a RoomWatch with a run
store, checks noted as they change) while a worker in another process serves the room: its
record is as complete as one from the in-process worker. Then the real app replays it, panes,
transcript, turn-taking, timeline and findings, and no livekit-server is started. A short
synthetic record covers real-time playing; bad run directories are one line and exit 2.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import create_dispatched_room, delete_room_quietly, eventually
from livekit import api
from test_record_recorder import ROOM, synthetic_call
from textual.pilot import Pilot

from agents.constants import AGENT_NAME
from tui.cluster.load import GOODBYE_SCRIPT, scripted_scenario
from tui.commands.cli import run_cli
from tui.core.control_plane import ControlPlane
from tui.core.local_server import LocalServer, ServerConfig
from tui.core.log_bridge import LogCapture
from tui.core.record.recorder import CallRecorder
from tui.core.record.replay import load_recording, retime
from tui.core.record.store import RunStore
from tui.core.room_model import RoomModel
from tui.core.room_watch import RoomWatch
from tui.core.settings import LiveKitSettings
from tui.core.worker_host import WorkerHost
from tui.ui.replay import ReplayApp
from tui.ui.screens.diagnostics import DiagnosticsScreen
from tui.ui.screens.timeline import TimelineScreen
from tui.ui.widgets.agent_pane import AgentPane
from tui.ui.widgets.diagnostics_panel import CheckRow
from tui.ui.widgets.timeline import Timeline
from tui.ui.widgets.turns_line import TurnsLine

SIZE = (170, 50)
TIM, CHRIS = "dispatcher-tim", "driver-chris"


def replay_app(run_dir: Path, tmp_path: Path, *, real_time: bool = False) -> ReplayApp:
    capture = LogCapture(tmp_path / "replay.log")
    capture.start()
    return ReplayApp(load_recording(run_dir), capture, real_time=real_time)


def pane_text(app: ReplayApp, role: str) -> tuple[str, str]:
    found = app.query_one(f"#pane-{role}", AgentPane)
    return found.info_text, found.transcript_plain


def flat(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as one level (pytest.approx compares flat mappings)."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def same_figures(live: dict[str, Any], report: dict[str, Any], tolerance: float) -> None:
    """Names and counts equal, seconds within ``tolerance``."""
    live, report = flat(live), flat(report)
    assert set(live) == set(report)
    for key, value in report.items():
        if isinstance(value, float):
            assert live[key] == pytest.approx(value, abs=tolerance), key
        else:
            assert live[key] == value, key


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["replay", *argv], environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def synthetic_run(tmp_path: Path) -> Path:
    recorder = CallRecorder(tmp_path / "run", ROOM, scenario="HDX-2478")
    synthetic_call(recorder, recorder.t0)
    return recorder.close("test over")


# ---------------------------------------------------------------- bad input


def test_bad_run_directories_are_one_line_and_exit_2(synthetic_run: Path, tmp_path: Path) -> None:
    code, out, err = cli(str(tmp_path / "nowhere"))
    assert code == 2 and not out and err.count("\n") == 1 and "not a directory" in err
    events = synthetic_run / "events.jsonl"
    text = events.read_text()
    events.write_text(text[: len(text) - 30])  # the last line cut short
    code, _, err = cli(str(synthetic_run))
    assert code == 2 and err.count("\n") == 1
    assert "cut short (truncated record)" in err and "record the call again" in err
    events.write_text('{"type": "Nonsense"}\n' + text)
    code, _, err = cli(str(synthetic_run))
    assert code == 2 and "unknown event type 'Nonsense'" in err
    (synthetic_run / "report.json").unlink()
    code, _, err = cli(str(synthetic_run))
    assert code == 2 and "no report.json" in err


def test_events_move_onto_the_replaying_clock(synthetic_run: Path) -> None:
    recording = load_recording(synthetic_run)
    assert recording.room == ROOM and recording.scenario == "HDX-2478" and recording.complete
    speech = next(e for e in recording.events if type(e).__name__ == "Speech")
    moved = retime(speech, 1000.0)
    assert (moved.start, moved.end, moved.at) == (
        speech.start + 1000.0,
        speech.end + 1000.0,
        speech.at + 1000.0,
    )


# ---------------------------------------------------------------- a short record, played


async def test_real_time_plays_the_call_as_it_happened(synthetic_run: Path, tmp_path: Path) -> None:
    app = replay_app(synthetic_run, tmp_path, real_time=True)
    async with app.run_test(size=SIZE) as pilot:
        await eventually(lambda: len(app.state.agents()) == 2, 5, "the agents to join",
                         pause=pilot.pause)  # fmt: skip
        # they joined 0.1 s into the call; Chris says "Hey" at 3 s: not yet
        assert not any(line.text == "Hey" for line in app.state.transcript)
        assert not app.replayed
        await eventually(lambda: app.replayed, 10, "the end of the record", pause=pilot.pause)
        await eventually(lambda: "Hey" in pane_text(app, "driver")[1], 5, "Chris's line",
                         pause=pilot.pause)  # fmt: skip
        report = app.recording.run.report
        same_figures(app.model.turns.sweep.summary(), report["turn_taking"], 0.0015)


# ---------------------------------------------------------------- a real call


@dataclass
class Recorded:
    run_dir: Path
    report: dict[str, Any]


@pytest.fixture(scope="module")
async def recorded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorded]:
    """One real call served by a worker in another process, recorded by a room watch as a
    ``--no-worker`` dashboard records it (every check noted as it changes)."""
    base = tmp_path_factory.mktemp("replay")
    server = LocalServer(ServerConfig.generate())
    await server.astart()
    try:
        settings = LiveKitSettings(server.url, server.api_key, server.api_secret, "test")
        async with (
            WorkerHost(server, base) as host,
            ControlPlane.from_settings(settings) as cp,
            api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi,
        ):
            assert host.worker_id
            model = RoomModel(in_process_worker=False)
            watch = RoomWatch(settings, cp, model.apply, level_interval_s=0.2,
                              record=RunStore(base / "runs"))  # fmt: skip
            room = f"replay_{secrets.token_hex(3)}"
            scenario = scripted_scenario()
            await create_dispatched_room(lkapi, room, scenario, ())
            model.reset(room, now=time.monotonic())
            watch.start()
            await watch.watch(room)  # watching before the agents come: nothing is missed
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=AGENT_NAME, room=room, metadata=scenario.to_json()
                )
            )

            def call_over() -> bool:
                watch.note_checks(model.evaluate(time.monotonic()))
                agents = model.state.agents()
                return len(agents) == 2 and not any(view.connected for view in agents)

            await eventually(call_over, 90, "the call to end", interval_s=0.25)
            await watch.aclose()
            run_dir = Path(model.recording[room])
            await delete_room_quietly(lkapi, room)
    finally:
        await server.astop()
    yield Recorded(run_dir, json.loads((run_dir / "report.json").read_text()))


async def test_a_record_from_a_worker_elsewhere_is_complete(recorded: Recorded) -> None:
    report = recorded.report
    assert report["ended_reason"] == "max_turns" and report["recording"]["complete"]
    lines = {role: sum(1 for who, _ in GOODBYE_SCRIPT if who == role) for role in
             ("dispatcher", "driver")}  # fmt: skip
    for identity, role in ((TIM, "dispatcher"), (CHRIS, "driver")):
        agent = report["agents"][identity]
        assert agent["turns"] == agent["relay_turns"] == lines[role], agent
        assert agent["pipeline"]["tts_ttfb_s"]["count"] == lines[role]  # session events
    said = [(line["identity"], line["text"]) for line in report["transcript"]]
    assert [text for _, text in said] == [text for _, text in GOODBYE_SCRIPT]
    findings = {finding["id"]: finding["status"] for finding in report["findings"]}
    assert findings["turn.overlap"] == findings["turn.deadlock"] == "ok"
    assert findings["server.reachable"] == findings["dispatch.job"] == "ok"
    # every check was noted as it changed: both agents' audio was fine during the call
    events = [json.loads(line) for line in (recorded.run_dir / "events.jsonl").open()]
    noted = {(e["check_id"], e["status"]) for e in events if e["type"] == "Finding"}
    assert {("audio.dispatcher", "ok"), ("audio.driver", "ok")} <= noted
    assert {path.name for path in recorded.run_dir.glob("*.wav")} == {f"{TIM}.wav", f"{CHRIS}.wav"}


async def test_replay_shows_the_call_with_no_server(recorded: Recorded, tmp_path: Path) -> None:
    children = set(psutil.Process().children(recursive=True))
    app = replay_app(recorded.run_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await eventually(lambda: app.replayed, 20, "the record to load", pause=pilot.pause)
        await _shows_the_call(app, pilot, recorded)
        started = set(psutil.Process().children(recursive=True)) - children
        assert not started, f"a replay started processes: {started}"
        assert app.backend.local_server is None and app.backend.settings is None


async def _shows_the_call(app: ReplayApp, pilot: Pilot[None], recorded: Recorded) -> None:
    await pilot.pause(0.3)
    tim_info, tim_said = pane_text(app, "dispatcher")
    chris_info, chris_said = pane_text(app, "driver")
    assert f"identity {TIM}" in tim_info and f"identity {CHRIS}" in chris_info
    assert "left" in tim_info  # the call is over: both agents have left
    for who, text in GOODBYE_SCRIPT:
        assert text in (tim_said if who == "dispatcher" else chris_said)
    # turn-taking from the replayed audio levels: the report's own figures (the record keeps
    # times to 0.1 ms: an interval's end may differ by that, a rounded figure by 1 ms)
    same_figures(app.model.turns.sweep.summary(), recorded.report["turn_taking"], 0.0015)
    line = app.query_one(TurnsLine)
    await eventually(lambda: "gap p50" in line.text, 5, "the turn-taking line", pause=pilot.pause)
    assert "overlaps 0" in line.text
    assert str(recorded.run_dir.name) in str(app.query_one("#room-title").render())

    await pilot.press("v")
    await eventually(lambda: isinstance(app.screen, TimelineScreen), 5, "the timeline",
                     pause=pilot.pause)  # fmt: skip
    screen = app.screen
    assert isinstance(screen, TimelineScreen)
    timeline = screen.query_one(Timeline)
    await eventually(lambda: timeline.shown is not None, 5, "a drawing", pause=pilot.pause)
    shown = timeline.shown
    assert shown is not None
    lanes = {lane.identity: lane.cells for lane in shown.lanes}
    assert set(lanes) == {TIM, CHRIS} and all("█" in cells for cells in lanes.values())
    assert len(shown.transcript) == len(GOODBYE_SCRIPT)
    assert GOODBYE_SCRIPT[-1][1] in screen.words_plain
    await pilot.press("escape")

    await pilot.press("t")
    await eventually(lambda: isinstance(app.screen, DiagnosticsScreen), 5, "troubleshoot",
                     pause=pilot.pause)  # fmt: skip
    rows = {row.id: row for row in app.screen.query(CheckRow)}
    assert rows["check-turn-overlap"].has_class("-ok")
    assert rows["check-server-reachable"].has_class("-ok")  # as recorded
    assert rows["check-room-driver"].has_class("-fail")  # Chris left at the end
    await pilot.press("escape")
    await pilot.press("n")  # read-only: nothing to create a room with
    await pilot.pause(0.2)
    assert app.model.rooms == ()
    await asyncio.sleep(0)
