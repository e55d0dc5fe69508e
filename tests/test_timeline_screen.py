"""The timeline screen (key v) and the speaking heard in the audio, on a real call: the dashboard
with its own local server, the in-process worker and the offline voice (one short call of five
lines, four answers, for every assertion below)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import press, showing
from test_app import (
    SHORT_CALL,
    SHORT_LINES,
    pane,
    pick_scenario,
    running_app,
    wait_until,
    write_short_call,
)
from textual.pilot import Pilot

from tui.ui.app import DispatchApp
from tui.ui.screens.diagnostics import DiagnosticsScreen
from tui.ui.screens.help import HelpScreen
from tui.ui.screens.timeline import TimelineScreen
from tui.ui.widgets.diagnostics_panel import CheckRow
from tui.ui.widgets.timeline import Timeline
from tui.ui.widgets.turns_line import TurnsLine

pytestmark = pytest.mark.e2e
TIM, CHRIS = "dispatcher-tim", "driver-chris"


def speaking_panes(app: DispatchApp) -> set[str]:
    return {role for role in ("dispatcher", "driver") if "● SPEAKING" in pane(app, role).info_text}


async def test_a_call_on_the_timeline_and_speaking_heard_in_the_audio(tmp_path: Path) -> None:
    async with running_app(tmp_path, (write_short_call(tmp_path / "scenarios"),)) as (app, pilot):
        await _test_a_call_on_the_timeline(app, pilot)


async def _test_a_call_on_the_timeline(app: DispatchApp, pilot: Pilot[None]) -> None:
    await pick_scenario(pilot, SHORT_CALL)
    await wait_until(pilot, lambda: app.state.room.startswith(f"conv_{SHORT_CALL}_"), "the room")

    # the panes: "● SPEAKING" is what the audio says, one agent at a time, state shown too
    seen: set[str] = set()
    both = 0
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        await pilot.pause(0.1)
        speaking = speaking_panes(app)
        both += len(speaking) == 2
        seen |= speaking
    assert seen == {"dispatcher", "driver"}, "each agent shown speaking from its audio"
    assert both == 0, "the relay never overlaps: never two panes speaking at once"
    assert "state " in pane(app, "dispatcher").info_text  # lk.agent.state stays on show

    # v: a lane per agent, following the call
    await press(pilot, "v")
    await wait_until(pilot, lambda: showing(app, TimelineScreen, Timeline), "the timeline")
    screen = app.screen
    assert isinstance(screen, TimelineScreen)
    timeline = screen.query_one(Timeline)

    def lanes() -> dict[str, str]:
        shown = timeline.shown
        return {lane.identity: lane.cells for lane in shown.lanes} if shown else {}

    await wait_until(
        pilot,
        lambda: all("█" in lanes().get(identity, "") for identity in (TIM, CHRIS)),
        "speaking bars in both lanes",
    )
    assert timeline.follow
    first_tim = SHORT_LINES[0]
    await wait_until(pilot, lambda: first_tim in screen.words_plain, "Tim's first line")
    shown = timeline.shown
    assert shown is not None and any(mark.kind == TIM for mark in shown.transcript)
    rendered = str(timeline.render())
    assert "Tim" in rendered and "Chris" in rendered and "▼" in rendered

    # the call ends: the timeline stops at its end; it scrolls and zooms
    def call_over() -> bool:
        agents = app.state.agents()
        return len(agents) == 2 and not any(view.connected for view in agents)

    await wait_until(pilot, call_over, "the call to end", 120)
    await pilot.pause(1.2)
    ended = timeline.shown
    assert ended is not None
    await pilot.pause(1.0)
    assert timeline.shown is not None and timeline.shown.start == ended.start  # not moving

    def title() -> str:
        return str(screen.query_one("#timeline-title").render())

    await press(pilot, "home")
    await wait_until(pilot, lambda: not timeline.follow, "home to stop following")
    assert timeline.start == app.state.started_at
    await wait_until(pilot, lambda: "scrolled" in title() and "0:00–" in title(), "the title")
    await press(pilot, "minus")
    await wait_until(pilot, lambda: "1 s a cell" in title(), "the zoomed-out title")
    await press(pilot, "end")
    await wait_until(pilot, lambda: timeline.follow, "end to follow again")
    app.save_screenshot(
        filename="pilot-timeline.svg",
        path=str(Path(os.environ.get("DISPATCH_TUI_SCREENSHOTS", "/tmp"))),
    )
    await press(pilot, "escape")
    await wait_until(pilot, lambda: not isinstance(app.screen, TimelineScreen), "it to close")

    # the call's turn-taking under the jobs line, and as checks under t
    figures = app.model.turns.sweep.summary()
    assert figures["response_gap_s"]["count"] >= 3 and figures["overlaps"] == 0
    line = app.query_one(TurnsLine)
    await wait_until(pilot, lambda: "gap p50" in line.text, "the turn-taking line")
    assert "overlaps 0" in line.text and "deadlocks 0" in line.text, line.text
    checks = {check.id: check for check in app.current_checks(time.monotonic())}
    assert checks["turn.overlap"].status == "ok" and checks["turn.deadlock"].status == "ok"
    await press(pilot, "t")
    await wait_until(pilot, lambda: showing(app, DiagnosticsScreen, CheckRow), "troubleshoot")
    rows = {row.id: row for row in app.screen.query(CheckRow)}
    for row_id, title in (("turn-overlap", "One speaker at a time"),
                          ("turn-deadlock", "Someone takes the turn")):  # fmt: skip
        assert rows[f"check-{row_id}"].has_class("-ok")
        assert title in str(rows[f"check-{row_id}"].render())
    await press(pilot, "escape")
    await wait_until(pilot, lambda: not isinstance(app.screen, DiagnosticsScreen), "it to close")
    await press(pilot, "question_mark")
    await wait_until(pilot, lambda: showing(app, HelpScreen, "#help-table"), "help")
    assert "Timeline" in str(app.screen.query_one("#help-table").render())
