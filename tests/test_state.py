from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.agent_view import (
    IN_PROGRESS_CAP,
    SPEAKING_HISTORY,
    TRANSCRIPT_CAP,
    classify,
    overlap_seconds,
)
from tui.core.audio_level import SILENCE_DBFS
from tui.core.events import (
    ActiveSpeakers,
    AttributesChanged,
    AudioLevel,
    ConnectionQualityChanged,
    DomainEvent,
    JobsListed,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    RoomJob,
    SessionEvent,
    TrackUpdate,
    TranscriptSegment,
    freeze_attributes,
)
from tui.core.jobs import describe_job, jobs_health, lost_job_notice, room_worker
from tui.core.state import RoomState
from tui.ui.widgets.jobs_line import jobs_text

ROOM = "dispatch-room"


def joined(
    identity: str,
    *,
    name: str = "",
    kind: str = "agent",
    attributes: dict[str, str] | None = None,
    at: float = 0.0,
    room: str = ROOM,
) -> ParticipantJoined:
    return ParticipantJoined(
        room=room,
        identity=identity,
        name=name,
        kind=kind,
        attributes=freeze_attributes(attributes or {}),
        sid="PA_" + identity,
        at=at,
    )


def segment(identity: str, segment_id: str, text: str, final: bool, at: float) -> TranscriptSegment:
    return TranscriptSegment(
        room=ROOM, identity=identity, segment_id=segment_id, text=text, final=final, at=at
    )


# --------------------------------------------------------------------------- classification


def test_role_attribute_wins_over_keywords() -> None:
    result = classify("driver-chris", "Chris", "agent", {"dispatch.role": "dispatcher"})
    assert result.role == "dispatcher"
    assert "dispatch.role='dispatcher'" in result.reason


@pytest.mark.parametrize(
    ("identity", "name", "role"),
    [
        ("dispatcher-tim", "", "dispatcher"),
        ("agent-1", "TIM", "dispatcher"),
        ("DISPATCHER", "", "dispatcher"),
        ("Driver-7", "", "driver"),
        ("agent-2", "chRIS", "driver"),
        ("agent_abc123", "", "unmatched"),
    ],
)
def test_keyword_fallback_is_case_insensitive(identity: str, name: str, role: str) -> None:
    assert classify(identity, name, "agent", {}).role == role


def test_unmatched_agent_says_why() -> None:
    state = RoomState(ROOM)
    state.apply(joined("agent_abc123"))
    [view] = state.unmatched()
    assert view.identity == "agent_abc123"
    assert view.match_reason == (
        "identity 'agent_abc123' matches neither filter (dispatcher|tim, driver|chris)"
    )
    assert state.dispatcher() is None and state.driver() is None


def test_unknown_role_value_falls_back_and_is_explained() -> None:
    result = classify("agent_abc123", "Bob", "agent", {"dispatch.role": "pilot"})
    assert result.role == "unmatched"
    assert "'pilot' is neither dispatcher nor driver" in result.reason
    assert "name 'Bob'" in result.reason


def test_standard_participants_are_listed_apart_even_if_named_like_an_agent() -> None:
    state = RoomState(ROOM)
    state.apply(joined("viewer", name="Tim", kind="standard"))
    assert state.dispatcher() is None
    assert [view.identity for view in state.standard()] == ["viewer"]
    assert state.agents() == []
    state.apply(ParticipantLeft(room=ROOM, identity="viewer", at=1.0))
    assert state.standard() == []


def test_role_attribute_set_later_reclassifies() -> None:
    state = RoomState(ROOM)
    state.apply(joined("agent_abc123"))
    attributes = freeze_attributes({"dispatch.role": "driver", "lk.agent.state": "listening"})
    assert state.apply(AttributesChanged(room=ROOM, identity="agent_abc123", attributes=attributes))
    driver = state.driver()
    assert driver is not None and driver.identity == "agent_abc123"
    assert driver.agent_state == "listening"
    assert state.unmatched() == []


# --------------------------------------------------------------------------- presence


def test_missing_then_joined_then_left_durations() -> None:
    state = RoomState(ROOM, now=100.0)
    assert state.missing_roles() == ["dispatcher", "driver"]
    assert state.missing_for("dispatcher", now=112.0) == pytest.approx(12.0)
    state.apply(joined("dispatcher-tim", at=105.0))
    tim = state.dispatcher()
    assert tim is not None and tim.connected
    assert state.missing_for("dispatcher", now=112.0) is None
    assert tim.presence(now=112.0) == "here for 7 s"
    state.apply(ParticipantLeft(room=ROOM, identity="dispatcher-tim", reason="CLIENT", at=120.0))
    tim = state.dispatcher()
    assert tim is not None and not tim.connected  # remembered, not vanished
    assert tim.absent_for(now=125.0) == pytest.approx(5.0)
    assert tim.presence(now=125.0) == "left 5 s ago"
    assert state.missing_for("dispatcher", now=125.0) == pytest.approx(5.0)
    assert tim.leave_reason == "CLIENT"


def test_rejoin_keeps_history_and_connected_beats_departed() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim", at=1.0))
    state.apply(segment("dispatcher-tim", "SG_1", "hello", True, 2.0))
    state.apply(ParticipantLeft(room=ROOM, identity="dispatcher-tim", at=3.0))
    state.apply(joined("tim-2", at=4.0))
    picked = state.dispatcher()
    assert picked is not None and picked.identity == "tim-2"
    state.apply(joined("dispatcher-tim", at=5.0))
    view = state.get("dispatcher-tim")
    assert view is not None and view.connected and view.left_at is None
    assert [line.text for line in view.transcript] == ["hello"]
    assert view.counters.joins == 2


def test_events_for_another_room_are_ignored() -> None:
    state = RoomState(ROOM)
    assert not state.apply(joined("dispatcher-tim", room="old-room"))
    assert state.participants() == [] and state.ignored == 1


def test_reset_forgets_everything() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim"))
    state.apply(segment("dispatcher-tim", "SG_1", "hi", True, 1.0))
    version = state.version
    state.reset("other", now=50.0)
    assert state.room == "other" and state.participants() == [] and not state.transcript
    assert state.missing_since("driver") == 50.0
    assert state.version > version
    assert not state.apply(joined("dispatcher-tim"))  # old room's events are stale now


def test_levels_and_transcript_words_stream_the_rest_is_prompt() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim"))
    version, prompt = state.version, state.prompt_version
    state.apply(AudioLevel(room=ROOM, identity="dispatcher-tim", rms_dbfs=-12.0, at=1.0))
    state.apply(segment("dispatcher-tim", "SG_1", "Hi Chris", False, 1.1))
    assert state.version == version + 2
    assert state.prompt_version == prompt  # drawn a few times a second, not at once

    # the panes' speaking comes from the audio (LiveTurns): the server's speakers wait too
    state.apply(ActiveSpeakers(room=ROOM, identities=("dispatcher-tim",), at=1.2))
    assert state.prompt_version == prompt
    state.apply(joined("driver-chris"))
    assert state.prompt_version == prompt + 1
    state.reset("other", now=2.0)
    assert state.prompt_version == prompt + 2


# --------------------------------------------------------------------------- media


def test_tracks_levels_and_quality() -> None:
    state = RoomState(ROOM)
    state.apply(joined("driver-chris"))

    def update(status: str, **extra: object) -> bool:
        return state.apply(
            TrackUpdate(
                room=ROOM,
                identity="driver-chris",
                sid="TR_1",
                name="voice",
                source="microphone",
                status=status,  # type: ignore[arg-type]
                **extra,  # type: ignore[arg-type]
            )
        )

    update("published")
    chris = state.driver()
    assert chris is not None and chris.audio is not None
    assert chris.audio.published and not chris.audio.subscribed
    update("subscription_failed", error="no codec")
    assert chris.audio.subscription_error == "no codec"
    update("subscribed")
    assert chris.audio.subscribed and chris.audio.subscription_error == ""
    update("muted", muted=True)
    assert chris.audio.muted
    assert chris.silent_for(now=3.0) == pytest.approx(3.0)
    state.apply(AudioLevel(room=ROOM, identity="driver-chris", rms_dbfs=-12.0, at=4.0))
    assert chris.level_dbfs == -12.0 and chris.last_sound_at == 4.0
    state.apply(AudioLevel(room=ROOM, identity="driver-chris", rms_dbfs=SILENCE_DBFS, at=6.0))
    assert chris.last_sound_at == 4.0 and chris.level_at == 6.0
    assert chris.silent_for(now=7.0) == pytest.approx(3.0)
    assert state.apply(
        ConnectionQualityChanged(room=ROOM, identity="driver-chris", quality="excellent")
    )
    assert chris.quality == "excellent"
    update("unpublished")
    assert chris.audio is None and chris.level_dbfs is None
    assert not state.apply(AudioLevel(room=ROOM, identity="nobody", rms_dbfs=-1.0))


def test_speaking_intervals_and_overlap() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim"))
    state.apply(joined("driver-chris"))
    for at, speakers in [
        (1.0, ("dispatcher-tim",)),
        (3.0, ()),
        (4.0, ("driver-chris",)),
        (5.0, ("driver-chris", "dispatcher-tim")),
        (5.5, ("driver-chris",)),
        (6.0, ()),
    ]:
        state.apply(ActiveSpeakers(room=ROOM, identities=speakers, at=at))
    tim, chris = state.dispatcher(), state.driver()
    assert tim is not None and chris is not None
    assert list(tim.speaking_intervals) == [(1.0, 3.0), (5.0, 5.5)]
    assert list(chris.speaking_intervals) == [(4.0, 6.0)]
    assert tim.counters.speaking_turns == 2
    assert state.speaking_overlap_s() == pytest.approx(0.5)
    state.apply(ActiveSpeakers(room=ROOM, identities=("driver-chris",), at=7.0))
    state.apply(ParticipantLeft(room=ROOM, identity="driver-chris", at=8.0))
    assert not chris.speaking and chris.speaking_intervals[-1] == (7.0, 8.0)


def test_overlap_seconds_handles_disjoint_and_nested() -> None:
    assert overlap_seconds([(0, 1)], [(1, 2)]) == 0
    assert overlap_seconds([(0, 10)], [(2, 3), (5, 6)]) == pytest.approx(2)
    # stretches shorter than at_least_s are left out, longer ones count whole
    assert overlap_seconds([(0, 10)], [(2, 2.4), (5, 6)], at_least_s=0.5) == pytest.approx(1)
    assert overlap_seconds([(0, 1)], [(0.5, 2)], at_least_s=0.5) == pytest.approx(0.5)


def test_observer_disconnect_stops_speaking() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim"))
    state.apply(ActiveSpeakers(room=ROOM, identities=("dispatcher-tim",), at=1.0))
    state.apply(ObserverStatus(room=ROOM, state="disconnected", detail="gone", at=2.0))
    tim = state.dispatcher()
    assert tim is not None and not tim.speaking
    assert state.observer_state == "disconnected" and state.observer_detail == "gone"


# --------------------------------------------------------------------------- transcripts


def test_transcript_in_progress_updated_in_place_then_finalized() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim"))
    state.apply(segment("dispatcher-tim", "SG_1", "Unit 4", False, 1.0))
    tim = state.dispatcher()
    assert tim is not None
    line = tim.in_progress["SG_1"]
    state.apply(segment("dispatcher-tim", "SG_1", "Unit 4, [b]come in[/b]", False, 2.0))
    assert tim.in_progress["SG_1"] is line  # same object, replaced text
    assert line.text == "Unit 4, [b]come in[/b]"  # raw: markup-like text kept verbatim
    assert not tim.transcript and [x.text for x in state.in_progress()] == [line.text]
    state.apply(segment("dispatcher-tim", "SG_1", "Unit 4, come in.", True, 3.0))
    assert not tim.in_progress
    assert [(x.text, x.final, x.started_at) for x in tim.transcript] == [
        ("Unit 4, come in.", True, 1.0)
    ]
    assert list(state.transcript) == list(tim.transcript)
    # A repeated final corrects the line instead of duplicating it.
    state.apply(segment("dispatcher-tim", "SG_1", "Unit 4, come in!", True, 4.0))
    assert [x.text for x in tim.transcript] == ["Unit 4, come in!"]


def test_transcript_is_capped() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim"))
    for index in range(TRANSCRIPT_CAP + 25):
        state.apply(segment("dispatcher-tim", f"SG_{index}", f"line {index}", True, float(index)))
    tim = state.dispatcher()
    assert tim is not None
    assert len(tim.transcript) == TRANSCRIPT_CAP == len(state.transcript)
    assert tim.transcript[0].text == "line 25"


def test_open_segments_are_flushed_when_the_speaker_leaves() -> None:
    state = RoomState(ROOM)
    state.apply(joined("driver-chris"))
    state.apply(segment("driver-chris", "SG_9", "Copy th", False, 1.0))
    state.apply(ParticipantLeft(room=ROOM, identity="driver-chris", at=2.0))
    chris = state.driver()
    assert chris is not None and not chris.in_progress
    assert [(x.text, x.final) for x in chris.transcript] == [("Copy th", False)]


def test_late_and_reordered_segments_never_reopen_or_duplicate() -> None:
    state = RoomState(ROOM)
    state.apply(joined("driver-chris"))
    state.apply(segment("driver-chris", "SG_1", "Copy that.", True, 1.0))
    assert not state.apply(segment("driver-chris", "SG_1", "Copy", False, 1.5))  # stale interim
    state.apply(ParticipantLeft(room=ROOM, identity="driver-chris", at=2.0))
    # A stream still being read when its speaker left: recorded, never left open.
    state.apply(segment("driver-chris", "SG_2", "On my", False, 2.1))
    state.apply(segment("driver-chris", "SG_2", "On my way", False, 2.2))
    chris = state.driver()
    assert chris is not None and not chris.in_progress
    assert [(x.text, x.final) for x in chris.transcript] == [
        ("Copy that.", True),
        ("On my way", False),
    ]
    state.apply(segment("driver-chris", "SG_2", "On my way.", True, 2.3))
    assert [(x.text, x.final) for x in chris.transcript][-1] == ("On my way.", True)
    assert len(chris.transcript) == 2


# --------------------------------------------------------------------------- property

# --------------------------------------------------------------------------- jobs

TIM_ON_A = {
    "dispatch.role": "dispatcher",
    "dispatch.worker.id": "AW_a",
    "dispatch.worker.pid": "4242",
    "dispatch.worker.host": "box-1",
}


def job(
    job_id: str,
    worker: str,
    status: str,
    *,
    identity: str = "dispatcher-tim",
    started: float | None = 100.0,
    error: str = "",
) -> RoomJob:
    return RoomJob(job_id, worker, status, "AD_1", identity, error, started)


def test_jobs_are_tied_to_the_worker_process_of_the_job_agent() -> None:
    state = RoomState(ROOM)
    assert state.jobs_at is None and jobs_text(state) == ("jobs: listing…", "pending")
    state.apply(joined("dispatcher-tim", attributes=TIM_ON_A, at=1.0))
    before = state.version
    assert state.apply(JobsListed(ROOM, (job("AJ_1", "AW_a", "running"),), at=2.0))
    assert state.version == before + 1
    assert state.process_of(state.jobs[0]) == "4242@box-1"
    assert jobs_text(state) == (
        "jobs: job AJ_1 running on worker AW_a (pid 4242@box-1)",
        "ok",
    )
    # the same listing again is no visible change, but records when it was listed
    assert not state.apply(JobsListed(ROOM, (job("AJ_1", "AW_a", "running"),), at=4.0))
    assert state.jobs_at == 4.0
    # a listing for another room (an observer switch in between) changes nothing
    assert not state.apply(JobsListed("other-room", (), at=5.0))
    assert len(state.jobs) == 1


def test_a_replaced_agent_keeps_the_dead_workers_process_known() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim", attributes=TIM_ON_A, at=1.0))
    state.apply(ParticipantLeft(ROOM, "dispatcher-tim", at=30.0))
    on_b = {**TIM_ON_A, "dispatch.worker.id": "AW_b", "dispatch.worker.pid": "77"}
    state.apply(joined("dispatcher-tim", attributes=on_b, at=40.0))  # re-dispatched
    lost, running = job("AJ_1", "AW_a", "lost"), job("AJ_2", "AW_b", "running", started=140.0)
    state.apply(JobsListed(ROOM, (lost, running), at=41.0))
    assert state.process_of(lost) == "4242@box-1"
    assert state.process_of(running) == "77@box-1"
    text, health = jobs_text(state)
    assert "job AJ_1 on worker AW_a (pid 4242@box-1) lost: the worker stopped" in text
    assert "job AJ_2 running on worker AW_b (pid 77@box-1)" in text
    assert health == "ok"  # a job runs again
    assert room_worker(state.jobs) == "AW_b"


def test_process_falls_back_to_the_job_participant_without_a_worker_id() -> None:
    state = RoomState(ROOM)
    old_worker = {k: v for k, v in TIM_ON_A.items() if k != "dispatch.worker.id"}
    state.apply(joined("dispatcher-tim", attributes=old_worker, at=1.0))
    assert state.process_of(job("AJ_1", "AW_x", "running")) == "4242@box-1"
    assert state.process_of(job("AJ_1", "AW_x", "running", identity="someone")) == ""


def test_job_lines_and_health() -> None:
    lost = job("AJ_9", "AW_z", "lost")
    assert lost_job_notice(lost, "12@h") == (
        "job AJ_9 on worker AW_z (pid 12@h) lost: the worker stopped; press d to re-dispatch"
    )
    assert describe_job(lost, "12@h") == lost_job_notice(lost, "12@h")
    assert describe_job(job("", "", "unassigned")) == "dispatch AD_1: no job listed yet"
    failed = job("AJ_3", "AW_z", "failed", error="agent worker left the room")
    assert describe_job(failed) == "job AJ_3 failed on worker AW_z: agent worker left the room"
    assert jobs_health([lost]) == "bad"
    assert jobs_health([failed]) == "bad"
    assert jobs_health([job("", "", "unassigned")]) == "pending"
    assert jobs_health([]) == "pending"
    assert jobs_health([lost, job("AJ_4", "AW_y", "running")]) == "ok"
    assert room_worker([job("", "", "unassigned")]) == ""
    assert room_worker([lost]) == "AW_z"


def test_jobs_line_without_room_or_dispatch() -> None:
    state = RoomState("")
    assert jobs_text(state) == ("jobs: no room observed", "pending")
    state.reset(ROOM, now=0.0)
    state.apply(JobsListed(ROOM, (), at=1.0))
    assert jobs_text(state)[0].startswith("jobs: the room has no agent dispatch")


def test_reset_forgets_jobs_and_workers() -> None:
    state = RoomState(ROOM)
    state.apply(joined("dispatcher-tim", attributes=TIM_ON_A, at=1.0))
    state.apply(JobsListed(ROOM, (job("AJ_1", "AW_a", "running"),), at=2.0))
    state.reset("other", now=3.0)
    assert state.jobs == () and state.jobs_at is None and state.worker_processes == {}


IDENTITIES = st.sampled_from(["dispatcher-tim", "driver-chris", "agent_abc123", "viewer"])
ROOMS = st.sampled_from([ROOM, ROOM, ROOM, "other-room"])
TIMES = st.floats(min_value=0, max_value=1e6, allow_nan=False)
ATTRS = st.dictionaries(
    st.sampled_from(["dispatch.role", "lk.agent.state", "x", "dispatch.worker.id"]),
    st.sampled_from(["dispatcher", "driver", "speaking", "", "pilot", "AW_a"]),
    max_size=3,
).map(freeze_attributes)

EVENTS: st.SearchStrategy[DomainEvent] = st.one_of(
    st.builds(
        ParticipantJoined,
        room=ROOMS,
        identity=IDENTITIES,
        name=st.sampled_from(["", "Tim", "Chris", "Bob"]),
        kind=st.sampled_from(["agent", "standard", "sip"]),
        attributes=ATTRS,
        at=TIMES,
    ),
    st.builds(ParticipantLeft, room=ROOMS, identity=IDENTITIES, at=TIMES),
    st.builds(AttributesChanged, room=ROOMS, identity=IDENTITIES, attributes=ATTRS, at=TIMES),
    st.builds(
        TrackUpdate,
        room=ROOMS,
        identity=IDENTITIES,
        sid=st.sampled_from(["TR_1", "TR_2"]),
        kind=st.sampled_from(["audio", "video"]),
        source=st.sampled_from(["microphone", "unknown"]),
        muted=st.booleans(),
        status=st.sampled_from(
            [
                "published",
                "subscribed",
                "unsubscribed",
                "unpublished",
                "subscription_failed",
                "muted",
                "unmuted",
            ]
        ),
        at=TIMES,
    ),
    st.builds(ActiveSpeakers, room=ROOMS, identities=st.lists(IDENTITIES).map(tuple), at=TIMES),
    st.builds(
        AudioLevel,
        room=ROOMS,
        identity=IDENTITIES,
        rms_dbfs=st.floats(min_value=-100, max_value=0),
        at=TIMES,
    ),
    st.builds(
        ConnectionQualityChanged,
        room=ROOMS,
        identity=IDENTITIES,
        quality=st.sampled_from(["good", "poor"]),
    ),
    st.builds(
        TranscriptSegment,
        room=ROOMS,
        identity=IDENTITIES,
        segment_id=st.integers(0, 40).map(lambda n: f"SG_{n}"),
        text=st.text(max_size=20),
        final=st.booleans(),
        at=TIMES,
    ),
    st.builds(
        JobsListed,
        room=ROOMS,
        jobs=st.lists(
            st.builds(
                RoomJob,
                job_id=st.sampled_from(["AJ_1", "AJ_2"]),
                worker_id=st.sampled_from(["", "AW_a"]),
                status=st.sampled_from(["running", "lost", "unassigned"]),
                dispatch_id=st.just("AD_1"),
                participant_identity=IDENTITIES,
                error=st.just(""),
                started_at=st.none() | TIMES,
            ),
            max_size=3,
        ).map(tuple),
        at=TIMES,
    ),
    st.builds(
        ObserverStatus,
        room=ROOMS,
        state=st.sampled_from(["connected", "reconnecting", "disconnected", "failed"]),
        at=TIMES,
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENTS, max_size=400))
def test_any_event_sequence_keeps_the_invariants(sequence: list[DomainEvent]) -> None:
    state = RoomState(ROOM)
    for event in sequence:
        state.apply(event)
        state.dispatcher(), state.driver(), state.unmatched(), state.missing_roles()
        jobs_text(state)
    assert len(state.transcript) <= TRANSCRIPT_CAP
    for view in state.participants():
        assert len(view.transcript) <= TRANSCRIPT_CAP
        assert len(view.in_progress) <= IN_PROGRESS_CAP
        assert len(view.speaking_intervals) <= SPEAKING_HISTORY
        assert all(start <= end for start, end in view.speaking_intervals)
        if not view.connected:
            assert not view.speaking and not view.in_progress
    for view in state.standard():
        assert view.connected  # departed standard participants are dropped


def _ended() -> SessionEvent:
    return SessionEvent(ROOM, "dispatcher-tim", "", "conversation_ended", {"reason": "goodbye"})


def test_a_job_whose_call_ended_is_ended_not_lost_in_either_order() -> None:
    # livekit-server keeps a finished job running: once its agents left it reads as lost
    gone = (job("AJ_1", "AW_a", "lost"),)
    listed_first = RoomState(ROOM)
    listed_first.apply(JobsListed(ROOM, gone, at=2.0))
    assert jobs_text(listed_first)[1] == "bad"
    assert listed_first.apply(_ended())
    ended_first = RoomState(ROOM)
    ended_first.apply(_ended())
    ended_first.apply(JobsListed(ROOM, gone, at=2.0))
    for state in (listed_first, ended_first):
        assert [j.status for j in state.jobs] == ["ended"]
        assert jobs_text(state) == ("jobs: job AJ_1 ended on worker AW_a", "ok")
    # a new room starts over: its lost job is lost
    ended_first.reset("next-room")
    ended_first.apply(JobsListed("next-room", gone, at=5.0))
    assert [j.status for j in ended_first.jobs] == ["lost"]
