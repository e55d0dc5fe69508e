"""The one reducer: each kind of event lands where the panes, latency and checks read it."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.constants import AGENT_NAME
from tui.core.diagnostics import Check
from tui.core.events import AudioLevel, ParticipantJoined, SessionEvent, freeze_attributes
from tui.core.infra_events import (
    ControlPlaneAnswered,
    RoomsListed,
    RoomSummary,
    ServerStatus,
    ServerStatusChanged,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.record.notes import Finding
from tui.core.room_model import RoomModel

ROOM = "conv_HDX-2478_x"


def checks(model: RoomModel, now: float = 1.0) -> dict[str, str]:
    return {check.id: check.status for check in model.evaluate(now)}


def test_room_events_reach_the_state_and_other_rooms_do_not() -> None:
    model = RoomModel(in_process_worker=True)
    model.reset(ROOM, now=0.0)
    joined = ParticipantJoined(ROOM, "dispatcher-tim", "Tim", "agent", freeze_attributes({}))
    assert model.apply(joined)
    assert not model.apply(ParticipantJoined("other", "x", "x", "agent", freeze_attributes({})))
    assert [view.identity for view in model.state.participants()] == ["dispatcher-tim"]


def test_server_and_worker_status_are_kept_and_checked() -> None:
    model = RoomModel(in_process_worker=True)
    assert model.server.state == "starting" and model.worker.state == "off"
    model.apply(ServerStatusChanged(ServerStatus("failed", detail="no binary")))
    assert model.server.state == "failed"
    assert checks(model)["server.credentials"] == "warn"
    model.apply(ServerStatusChanged(ServerStatus("ready", "ws://127.0.0.1:7880")))
    model.apply(WorkerStatusChanged(WorkerStatus("registered", "AW_1", "", AGENT_NAME), at=0.5))
    assert model.worker.worker_id == "AW_1"
    assert checks(model)["server.reachable"] == "ok"
    assert checks(model)["server.credentials"] == "ok"
    assert checks(model)["worker.registered"] != "pending"


def test_a_control_plane_failure_is_a_server_finding_but_not_found_is_not() -> None:
    model = RoomModel(in_process_worker=False)
    model.apply(ControlPlaneAnswered(False, "not_found", "room gone"))
    assert checks(model)["server.reachable"] == "pending"
    model.apply(ControlPlaneAnswered(False, "unreachable", "connection refused"))
    assert checks(model)["server.reachable"] == "fail"
    model.apply(ControlPlaneAnswered(True))
    assert checks(model)["server.reachable"] == "ok"


def test_rooms_are_kept_newest_first() -> None:
    model = RoomModel(in_process_worker=False)
    old = RoomSummary("old", "RM_1", 0, datetime(2026, 1, 1, tzinfo=UTC), None)
    new = RoomSummary("new", "RM_2", 2, datetime(2026, 1, 2, tzinfo=UTC), "HDX-2478")
    unknown = RoomSummary("unknown", "RM_3", 0, None, None)
    model.apply(RoomsListed((old, unknown, new)))
    assert [room.name for room in model.rooms] == ["new", "old", "unknown"]


def test_a_turn_records_latency_for_its_room() -> None:
    model = RoomModel(in_process_worker=False)
    model.reset(ROOM, now=0.0)
    turn = SessionEvent(ROOM, "dispatcher-tim", "dispatcher", "turn", {"e2e_latency": 0.4})
    model.apply(turn)
    series = model.latency.series(ROOM, "dispatcher", "e2e_latency")
    assert series is not None and series.last == 0.4


def test_checks_changes_are_marked_live_and_from_a_record() -> None:
    model = RoomModel(in_process_worker=False)
    model.reset(ROOM, now=0.0)
    pending = Check("audio.driver", "Chris's audio", "pending", "waiting")
    failing = Check("audio.driver", "Chris's audio", "fail", "silent")
    model.note_checks([pending], 1.0)
    model.note_checks([failing], 2.0)
    model.note_checks([failing], 3.0)  # no change: no mark
    model.note_checks([Check("audio.driver", "Chris's audio", "ok", "fine")], 4.0)
    assert [(m.at, m.status) for m in model.findings.marks] == [(2.0, "fail"), (4.0, "ok")]
    # a replay: the record's findings go through the same reducer
    model.apply(Finding(ROOM, "turn.overlap", "One speaker at a time", "warn", "x", at=5.0))
    model.apply(Finding("other room", "turn.overlap", "One speaker at a time", "fail", "x"))
    assert [check.id for check in model.findings.latest()] == ["audio.driver", "turn.overlap"]
    assert model.findings.marks[-1].at == 5.0
    model.reset("next", now=6.0)
    assert not model.findings.marks and not model.findings.latest()


def test_speaking_heard_in_the_audio_is_drawn_at_once() -> None:
    model = RoomModel(in_process_worker=False)
    model.reset(ROOM, now=0.0)
    tim = ParticipantJoined(ROOM, "dispatcher-tim", "Tim", "agent", freeze_attributes({}), at=0.0)
    model.apply(tim)
    before = model.state.prompt_version
    assert model.apply(AudioLevel(ROOM, "dispatcher-tim", -20.0, at=1.0))
    assert model.turns.audible("dispatcher-tim") and model.state.prompt_version == before + 1
    model.apply(AudioLevel(ROOM, "dispatcher-tim", -20.0, at=1.2))
    assert model.state.prompt_version == before + 1  # still speaking: only the level changed
