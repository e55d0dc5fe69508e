"""Speaking from the audio and turn-taking, live: the panes' indicator, the figures as the call
goes, and at the end the same figures as the call record's report."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_record_recorder import ROOM, synthetic_call

from agents.constants import AGENT_STATE_ATTRIBUTE
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    SessionEvent,
    freeze_attributes,
)
from tui.core.live_turns import LiveTurns
from tui.core.record.codec import read_events
from tui.core.record.recorder import CallRecorder
from tui.core.record.report_json import build_report
from tui.core.room_model import RoomModel

TIM, CHRIS, SAM = "dispatcher-tim", "driver-chris", "agent-sam"
LOUD, QUIET = -20.0, -100.0


def joined(turns: LiveTurns, identity: str, at: float, state: str = "listening") -> None:
    attributes = freeze_attributes({AGENT_STATE_ATTRIBUTE: state})
    turns.apply(ParticipantJoined(ROOM, identity, identity.split("-")[-1].title(), "agent",
                                  attributes, at=at))  # fmt: skip


def levels(turns: LiveTurns, identity: str, start: float, end: float, dbfs: float) -> list[bool]:
    """Levels every 0.2 s (the dashboard's rate); what each returned."""
    steps = round((end - start) / 0.2)
    return [
        turns.apply(AudioLevel(ROOM, identity, dbfs, at=round(start + step * 0.2, 3)))
        for step in range(steps)
    ]


def live() -> LiveTurns:
    turns = LiveTurns()
    turns.reset(ROOM)
    return turns


def test_speaking_follows_the_audio_across_word_gaps_and_stops_when_it_does() -> None:
    turns = live()
    joined(turns, TIM, 0.0)
    assert levels(turns, TIM, 1.0, 1.2, LOUD) == [True]  # on at the first loud level
    assert turns.audible(TIM)
    # a 0.4 s word gap does not blink it off
    assert not any(levels(turns, TIM, 1.2, 1.6, QUIET)) and turns.audible(TIM)
    assert not any(levels(turns, TIM, 1.6, 2.6, LOUD))
    changes = levels(turns, TIM, 2.6, 3.6, QUIET)
    assert changes.count(True) == 1 and not turns.audible(TIM)  # off after the hangover
    assert turns.intervals(TIM) == [(pytest.approx(0.95), pytest.approx(2.3))]


def test_the_floor_moves_at_once_when_the_next_agent_starts() -> None:
    turns = live()
    joined(turns, TIM, 0.0)
    joined(turns, CHRIS, 0.0)
    levels(turns, TIM, 1.0, 2.0, LOUD)
    levels(turns, CHRIS, 1.0, 2.0, QUIET)
    turns.apply(AudioLevel(ROOM, TIM, QUIET, at=2.0))  # Tim just stopped: in his quiet tail
    assert turns.audible(TIM)
    assert turns.apply(AudioLevel(ROOM, CHRIS, LOUD, at=2.2))  # Chris answers 0.2 s later
    assert turns.audible(CHRIS) and not turns.audible(TIM)  # no lag, no double "speaking"
    # a Tim still talking over Chris (loud on the next tick too) is not silenced
    turns.apply(AudioLevel(ROOM, TIM, LOUD, at=2.2))
    assert not turns.audible(TIM)  # the same tick: his last word, or more? Chris has the floor
    turns.apply(AudioLevel(ROOM, CHRIS, LOUD, at=2.4))
    turns.apply(AudioLevel(ROOM, TIM, LOUD, at=2.4))
    assert turns.audible(TIM) and turns.audible(CHRIS)


def test_at_a_handover_the_last_loud_level_of_the_first_does_not_show_both() -> None:
    turns = live()
    joined(turns, TIM, 0.0)
    joined(turns, CHRIS, 0.0)
    for step in range(5):  # the two tracks' levels come 0.1 s apart
        turns.apply(AudioLevel(ROOM, TIM, LOUD, at=1.0 + step * 0.2))
        turns.apply(AudioLevel(ROOM, CHRIS, QUIET, at=1.1 + step * 0.2))
    # Tim's last word is in his level of 1.8; Chris's first in his of 2.1 (begun after 1.9)
    turns.apply(AudioLevel(ROOM, CHRIS, LOUD, at=2.1))
    assert turns.audible(CHRIS) and not turns.audible(TIM)
    turns.apply(AudioLevel(ROOM, TIM, QUIET, at=2.2))
    assert turns.audible(CHRIS) and not turns.audible(TIM)


def test_figures_grow_as_the_call_goes_for_three_agents() -> None:
    turns = live()
    for identity in (TIM, CHRIS, SAM):
        joined(turns, identity, 0.0)
    speaking = {TIM: (1.0, 3.0), CHRIS: (3.6, 5.0), SAM: (5.4, 9.0)}
    for step in range(45):  # every 0.2 s, each agent's level in turn
        at = round(step * 0.2, 3)
        for identity, (start, end) in speaking.items():
            turns.apply(AudioLevel(ROOM, identity, LOUD if start <= at < end else QUIET, at=at))
    # Sam is still talking: his answer counts once its first interval has closed
    assert turns.sweep.summary()["response_gap_s"]["count"] == 1
    assert turns.audible(SAM) and not turns.audible(CHRIS)
    for step in range(5):
        for identity in speaking:
            turns.apply(AudioLevel(ROOM, identity, QUIET, at=9.0 + step * 0.2))
    summary = turns.sweep.summary()
    assert summary["response_gap_s"]["count"] == 2  # Chris after Tim, Sam after Chris
    assert summary["response_gap_s"]["p50"] == pytest.approx(0.7)  # 0.8 and 0.6 s
    assert summary["overlaps"] == 0
    longest = turns.sweep.longest_turn()
    assert longest is not None and longest.identity == SAM
    assert turns.lanes() == [TIM, CHRIS, SAM]
    assert turns.overlap_s(10.0) == 0.0


def test_a_participant_whose_levels_stop_does_not_hold_the_figures_back() -> None:
    turns = live()
    joined(turns, TIM, 0.0)
    joined(turns, CHRIS, 0.0)
    levels(turns, TIM, 1.0, 2.0, LOUD)  # then Tim's track goes away mid-word
    levels(turns, CHRIS, 1.0, 6.0, QUIET)
    assert not turns.audible(TIM)
    assert turns.intervals(TIM) == [(pytest.approx(0.95), pytest.approx(1.7))]
    assert turns.sweep.horizon > 5.0


def test_everything_is_closed_when_the_observer_leaves() -> None:
    turns = live()
    joined(turns, TIM, 0.0)
    levels(turns, TIM, 1.0, 2.0, LOUD)
    assert turns.audible(TIM)
    assert turns.apply(ObserverStatus(ROOM, "disconnected", at=2.0))
    assert not turns.audible(TIM) and len(turns.intervals(TIM)) == 1


def test_the_call_window_follows_joins_departures_and_the_end_of_the_conversation() -> None:
    turns = live()
    joined(turns, TIM, 1.0)
    assert (turns.sweep.window_start, turns.sweep.window_end) == (1.0, None)
    joined(turns, CHRIS, 2.5)
    assert turns.sweep.window_start == 2.5
    turns.apply(ParticipantLeft(ROOM, CHRIS, at=9.0))
    assert turns.sweep.window_end == 9.0 and turns.present() == 1
    ended = SessionEvent(ROOM, TIM, "", "conversation_ended", {"reason": "goodbye"}, at=8.0)
    turns.apply(ended)
    assert turns.sweep.window_end == 8.0  # the conversation's end wins, as in the report
    # other rooms, and participants that are not agents, are not counted
    turns.apply(ParticipantJoined("elsewhere", "agent-x", "X", "agent", (), at=3.0))
    turns.apply(ParticipantJoined(ROOM, "human", "Human", "standard", (), at=3.0))
    assert set(turns.agents) == {TIM, CHRIS}


def test_states_are_kept_for_drawing() -> None:
    turns = live()
    joined(turns, TIM, 0.0, "initializing")
    attributes = freeze_attributes({AGENT_STATE_ATTRIBUTE: "listening"})
    turns.apply(AttributesChanged(ROOM, TIM, attributes, at=1.0))
    turns.apply(AttributesChanged(ROOM, TIM, attributes, at=2.0))  # no change: not kept
    assert turns.states(TIM) == [(0.0, "initializing"), (1.0, "listening")]


def test_a_recorded_call_fed_through_the_model_gives_the_reports_figures(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path, ROOM, scenario="HDX-2478")
    synthetic_call(recorder, recorder.t0)
    recorder.close("test over")
    events = list(read_events(tmp_path / "events.jsonl"))
    model = RoomModel(in_process_worker=False)
    model.reset(ROOM, now=0.0)
    for event in events:
        model.apply(event)
    model.turns.finish()
    report = build_report(events)
    assert model.turns.sweep.summary() == report["turn_taking"]
    assert report["turn_taking"]["response_gap_s"]["count"] == 1
    for identity in (TIM, CHRIS):
        recorded = report["timeline"]["speech"][identity]
        heard = [value for interval in model.turns.intervals(identity) for value in interval]
        assert heard == pytest.approx([value for interval in recorded for value in interval])
