"""When one call of ``dispatch-tui run`` is over, from its watch's events (the tracker is pure;
the real calls are in test_call_runner.py), and how long a call may take."""

from __future__ import annotations

import dataclasses

from helpers import PROJECT

from agents.scenario import load_scenario
from tui.core.call_placer import CallLimits, CallTracker, call_label
from tui.core.events import ParticipantJoined, ParticipantLeft, SessionEvent
from tui.core.infra_events import RecordingFinished, RecordingStarted
from tui.core.run_plan import PlannedCall

ROOM = "conv_HDX-2478_x"
HDX = load_scenario(PROJECT / "scenarios" / "hdx-2478.json")


def joined(identity: str, at: float, kind: str = "agent", room: str = ROOM) -> ParticipantJoined:
    return ParticipantJoined(room, identity, kind=kind, at=at)


def session(kind: str, at: float, **payload: object) -> SessionEvent:
    return SessionEvent(ROOM, "dispatcher-tim", "dispatcher", kind, dict(payload), at=at)


def test_a_call_goes_from_waiting_to_talking_to_ending_and_is_over_when_the_agents_left() -> None:
    tracker = CallTracker(ROOM)
    assert tracker.phase() == ("waiting for agents", "")
    assert tracker.apply(joined("dispatcher-tim", 1.0))
    assert tracker.apply(joined("driver-chris", 1.2))
    assert not tracker.apply(joined("someone", 1.3, kind="standard"))  # not an agent
    assert not tracker.apply(joined("tim-elsewhere", 1.3, room="other"))
    assert tracker.phase() == ("talking", "")
    assert tracker.apply(session("turn", 2.0))
    assert tracker.phase() == ("talking", "turn 1")
    assert tracker.first_join == 1.0
    assert not tracker.over(3.0, settle_s=15)
    assert tracker.apply(session("conversation_ended", 30.0, reason="goodbye"))
    assert tracker.phase() == ("ending", "goodbye")
    assert not tracker.over(31.0, settle_s=15)
    tracker.apply(ParticipantLeft(ROOM, "driver-chris", at=32.0))
    assert tracker.anyone_left and not tracker.everyone_left
    assert not tracker.over(32.0, settle_s=15)
    tracker.apply(ParticipantLeft(ROOM, "dispatcher-tim", at=32.1))
    assert tracker.everyone_left and tracker.over(32.1, settle_s=15)


def test_an_ended_call_whose_agents_linger_is_over_after_the_settle_time() -> None:
    tracker = CallTracker(ROOM)
    tracker.apply(joined("dispatcher-tim", 1.0))
    tracker.apply(session("conversation_ended", 10.0, reason="max_turns"))
    tracker.apply(session("conversation_ended", 11.0, reason="error"))  # the first one counts
    assert tracker.ended_reason == "max_turns"
    assert not tracker.over(24.9, settle_s=15)
    assert tracker.over(25.0, settle_s=15)


def test_agents_leaving_without_an_end_is_over_and_a_rejoin_is_back_in_the_call() -> None:
    tracker = CallTracker(ROOM)
    assert not tracker.everyone_left  # nobody joined yet
    tracker.apply(joined("dispatcher-tim", 1.0))
    tracker.apply(ParticipantLeft(ROOM, "dispatcher-tim", at=2.0))
    assert tracker.over(2.0, settle_s=15) and tracker.phase() == ("agents left", "")
    tracker.apply(joined("dispatcher-tim", 3.0))
    assert not tracker.over(3.0, settle_s=15)
    # a participant that was never an agent of the call leaving changes nothing
    assert not tracker.apply(ParticipantLeft(ROOM, "viewer", at=4.0))


def test_the_record_location_and_its_error_come_from_the_recording_events() -> None:
    tracker = CallTracker(ROOM)
    tracker.apply(RecordingStarted("other", "/runs/other"))
    assert tracker.run_dir is None
    tracker.apply(RecordingStarted(ROOM, "/runs/a"))
    tracker.apply(RecordingFinished(ROOM, "/runs/a", "disk full"))
    assert (tracker.run_dir, tracker.record_error) == ("/runs/a", "disk full")


def test_a_call_may_last_its_scenario_duration_plus_a_margin_else_20_s_a_turn() -> None:
    limits = CallLimits(margin_s=30)
    assert limits.call_limit_s(PlannedCall(HDX, 1)) == 90 + 30  # expect.max_duration_s 90
    bare = dataclasses.replace(HDX, expect=None, max_turns=6)
    assert limits.call_limit_s(PlannedCall(bare, 2)) == 6 * 20 + 30
    assert call_label(PlannedCall(bare, 2)) == "HDX-2478 #2"
