"""The timeline's rows from a model fed events: lanes, partial cells, states, troubles, marks,
the axis, and work bounded by the window."""

from __future__ import annotations

import time

from agents.constants import AGENT_STATE_ATTRIBUTE
from tui.core.diagnostics import Check
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    ParticipantJoined,
    ParticipantLeft,
    TranscriptSegment,
    freeze_attributes,
)
from tui.core.room_model import RoomModel
from tui.core.timeline import clock, end_of_call, frame

ROOM = "room-timeline"
TIM, CHRIS = "dispatcher-tim", "driver-chris"


def state(value: str) -> tuple[tuple[str, str], ...]:
    return freeze_attributes({AGENT_STATE_ATTRIBUTE: value})


def call(tim: tuple[float, float], chris: tuple[float, float], until: float) -> RoomModel:
    """Tim and Chris join at 0; each speaks once; levels every 0.1 s until ``until``."""
    model = RoomModel(in_process_worker=False)
    model.reset(ROOM, now=0.0)
    for identity, name in ((TIM, "Tim"), (CHRIS, "Chris")):
        model.apply(ParticipantJoined(ROOM, identity, name, "agent", state("listening"), at=0.0))
    model.apply(AttributesChanged(ROOM, CHRIS, state("thinking"), at=2.0))
    model.apply(AttributesChanged(ROOM, CHRIS, state("listening"), at=3.0))
    for step in range(1, round(until * 10) + 1):
        at = step / 10
        for identity, (start, end) in ((TIM, tim), (CHRIS, chris)):
            level = -20.0 if start < at <= end else -100.0
            model.apply(AudioLevel(ROOM, identity, level, at=at))
    return model


def test_lanes_show_speech_thinking_and_presence() -> None:
    model = call(tim=(1.0, 3.0), chris=(3.5, 5.0), until=7.0)
    model.apply(TranscriptSegment(ROOM, TIM, "SG_1", "Hi Chris", True, at=1.2))
    model.note_checks([Check("audio.driver", "Chris's audio", "warn", "quiet")], 4.0)
    shown = frame(model, start=0.0, seconds_per_cell=0.5, width=16, now=7.0)
    lanes = {lane.identity: lane for lane in shown.lanes}
    assert [lane.name for lane in shown.lanes] == ["Tim", "Chris"]
    # Tim audible 1.05-2.95 s (ends dated mid-window): cells 2-5 nearly whole; here until now
    assert lanes[TIM].cells == "··████········  "
    assert lanes[CHRIS].cells[4:6] == "░░"  # thinking 2-3 s
    assert lanes[CHRIS].cells[7:10] == "███"
    assert lanes[CHRIS].cells[14:] == "  "  # after now: nothing yet
    assert [(mark.cell, mark.kind, mark.text) for mark in shown.transcript] == [
        (2, TIM, "Hi Chris")
    ]
    assert [(mark.cell, mark.kind) for mark in shown.findings] == [(8, "warn")]
    assert shown.axis.startswith("╵0:00") and shown.now_cell == 14


def test_a_part_of_a_cell_is_a_half_block_on_the_side_speech_fills() -> None:
    model = call(tim=(1.5, 2.5), chris=(9.0, 9.0), until=4.0)  # Tim 1.55-2.45 s
    cells = frame(model, start=0.0, seconds_per_cell=1.0, width=4, now=4.0).lanes[0].cells
    assert cells == "·▐▌·"  # under half of cell 1 (where it starts) and of cell 2 (ends)


def test_an_overlap_is_drawn_on_the_turn_taking_row() -> None:
    model = call(tim=(1.0, 3.0), chris=(2.0, 4.0), until=6.0)
    shown = frame(model, start=0.0, seconds_per_cell=0.5, width=12, now=6.0)
    assert "▀" in shown.issues
    assert shown.issues.index("▀") == 4  # 2.05-2.95 s


def test_the_axis_has_round_ticks_for_the_zoom() -> None:
    model = call(tim=(1.0, 2.0), chris=(3.0, 4.0), until=5.0)
    axis = frame(model, start=0.0, seconds_per_cell=1.0, width=40, now=5.0).axis
    assert axis.startswith("╵0:00") and axis[15:20] == "╵0:15" and len(axis) == 40
    assert clock(75) == "1:15" and clock(3725) == "1:02:05"


def test_a_finished_call_stays_in_view() -> None:
    model = call(tim=(1.0, 2.0), chris=(3.0, 4.0), until=5.0)
    assert end_of_call(model, 100.0) == 100.0  # agents still here: follow now
    model.apply(ParticipantLeft(ROOM, TIM, at=5.0))
    model.apply(ParticipantLeft(ROOM, CHRIS, at=5.0))
    assert end_of_call(model, 100.0) == 6.0  # a moment after the last event


def test_drawing_a_window_of_a_long_call_costs_what_is_in_it() -> None:
    model = RoomModel(in_process_worker=False)
    model.reset(ROOM, now=0.0)
    model.apply(ParticipantJoined(ROOM, TIM, "Tim", "agent", state("listening"), at=0.0))
    for step in range(1, 36_000):  # an hour of 0.1 s levels: 1 s on, 1 s off
        at = step / 10
        model.apply(AudioLevel(ROOM, TIM, -20.0 if int(at) % 2 else -100.0, at=at))
    started = time.perf_counter()
    for _ in range(20):
        shown = frame(model, start=3000.0, seconds_per_cell=0.5, width=120, now=3600.0)
    took = (time.perf_counter() - started) / 20
    assert shown.lanes[0].cells.count("█") >= 50
    assert took < 0.005, f"{took * 1000:.1f} ms a frame"
