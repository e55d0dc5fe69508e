"""The diagnostics engine on hand-made inputs: every check's pass and failure, deterministically."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from agents.constants import AGENT_NAME, AGENT_STATE_ATTRIBUTE, ROLE_ATTRIBUTE
from tui.core.diagnostics import Check, Thresholds, summary, worst
from tui.core.events import (
    ActiveSpeakers,
    AttributesChanged,
    AudioLevel,
    ObserverStatus,
    ParticipantJoined,
    SessionEvent,
    TrackUpdate,
    freeze_attributes,
)
from tui.core.infra_events import (
    ControlPlaneAnswered,
    DispatchesListed,
    ListedDispatch,
    RoomCreated,
    VoiceConfigured,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.log_errors import LogErrorCounter
from tui.core.room_model import RoomModel

ROOM = "conv_HDX-2478_x"
TIM, CHRIS = "dispatcher-tim", "driver-chris"
LOUD, QUIET = -20.0, -100.0


def Dispatch(dispatch_id: str, agent_name: str, num_jobs: int = 0) -> ListedDispatch:
    return ListedDispatch(dispatch_id, agent_name, num_jobs)


def by_id(checks: list[Check]) -> dict[str, Check]:
    return {check.id: check for check in checks}


def engine(**kwargs: object) -> RoomModel:
    """The one reducer, fed only events, as the dashboard and doctor feed it."""
    diag = RoomModel(**{"in_process_worker": True, **kwargs})  # type: ignore[arg-type]
    diag.reset(ROOM, now=0.0)
    return diag


def agent(
    diag: RoomModel,
    identity: str,
    at: float,
    *,
    role: str | None = None,
    state: str = "listening",
    with_track: bool = True,
) -> None:
    attributes = {AGENT_STATE_ATTRIBUTE: state}
    if role:
        attributes[ROLE_ATTRIBUTE] = role
    diag.apply(
        ParticipantJoined(ROOM, identity, identity, "agent", freeze_attributes(attributes), at=at)
    )
    if with_track:
        for status in ("published", "subscribed"):
            diag.apply(
                TrackUpdate(
                    ROOM, identity, f"TR_{identity}", source="microphone", status=status, at=at
                )
            )


def healthy(diag: RoomModel) -> None:
    """Server ok, worker registered before the room, both agents in and speaking in turns."""
    diag.apply(ControlPlaneAnswered(True))
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW_1", "", AGENT_NAME), at=-5.0))
    diag.apply(VoiceConfigured("offline"))
    created = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    diag.apply(RoomCreated(ROOM, created, created + timedelta(seconds=1), at=1.0))
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME),), at=1.0))
    diag.apply(ObserverStatus(ROOM, "connected", at=0.5))
    agent(diag, TIM, 1.0)
    agent(diag, CHRIS, 1.2)
    for step in range(10):  # Tim speaks 2.0-3.0, Chris 3.5-4.5
        diag.apply(AudioLevel(ROOM, TIM, LOUD, at=2.0 + step / 10))
        diag.apply(AudioLevel(ROOM, CHRIS, LOUD, at=3.5 + step / 10))
    diag.apply(AudioLevel(ROOM, TIM, QUIET, at=4.6))
    turn(diag, "dispatcher", 0.4, at=3.0)
    turn(diag, "driver", 0.5, at=4.5)


def turn(diag: RoomModel, role: str, reply_s: float | None, at: float) -> None:
    """A ``turn`` session event whose reply began ``reply_s`` after the agent was asked."""
    identity = TIM if role == "dispatcher" else CHRIS
    payload = {"text": "line", "e2e_latency": reply_s}
    diag.apply(SessionEvent(ROOM, identity, role, "turn", payload, at=at))


def test_healthy_room_passes_every_check() -> None:
    diag = engine()
    healthy(diag)
    checks = diag.evaluate(5.0)
    assert {c.status for c in checks} == {"ok"}, [c for c in checks if c.status != "ok"]
    assert worst(checks) == "ok"
    assert summary(checks) == f"checks: all {len(checks)} ok"
    assert len({c.id for c in checks}) == len(checks) == 21
    assert by_id(checks)["voice.reply"].finding == "Tim 0.4 s, Chris 0.5 s"


def test_evaluate_is_pure() -> None:
    diag = engine()
    healthy(diag)
    assert diag.evaluate(30.0) == diag.evaluate(30.0)


def test_nothing_known_is_pending_not_failing() -> None:
    checks = RoomModel(in_process_worker=True).evaluate(100.0)
    assert worst(checks) == "pending"
    assert by_id(checks)["server.reachable"].status == "pending"


@pytest.mark.parametrize(
    ("kind", "reach", "cred"),
    [("unreachable", "fail", "pending"), ("credentials", "ok", "fail"), ("server", "ok", "warn")],
)
def test_server_unreachable_and_credentials_are_distinct(kind: str, reach: str, cred: str) -> None:
    diag = engine()
    diag.apply(ControlPlaneAnswered(False, kind, "list rooms: nope"))  # type: ignore[arg-type]
    checks = by_id(diag.evaluate(1.0))
    assert checks["server.reachable"].status == reach
    assert checks["server.credentials"].status == cred


def test_not_found_is_not_a_server_problem() -> None:
    diag = engine()
    diag.apply(ControlPlaneAnswered(True))
    diag.apply(ControlPlaneAnswered(False, "not_found", "gone"))
    assert by_id(diag.evaluate(1.0))["server.reachable"].status == "ok"


def test_worker_states() -> None:
    diag = engine()
    diag.apply(WorkerStatusChanged(WorkerStatus("starting", agent_name=AGENT_NAME), at=0.0))
    assert by_id(diag.evaluate(1.0))["worker.registered"].status == "pending"
    assert by_id(diag.evaluate(20.0))["worker.registered"].status == "warn"
    diag.apply(
        WorkerStatusChanged(WorkerStatus("failed", detail="boom", agent_name=AGENT_NAME), at=21.0)
    )
    check = by_id(diag.evaluate(22.0))["worker.registered"]
    assert check.status == "fail" and "boom" in check.finding


def test_a_reconnecting_worker_warns_with_how_long() -> None:
    diag = engine()
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW_1", "", AGENT_NAME), at=0.0))
    lost = WorkerStatus("reconnecting", "AW_1", "lost the LiveKit server", AGENT_NAME)
    diag.apply(WorkerStatusChanged(lost, at=10.0))
    check = by_id(diag.evaluate(22.0))["worker.registered"]
    assert check.status == "warn"
    assert "12 s ago" in check.finding and "lost the LiveKit server" in check.finding
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW_2", "", AGENT_NAME), at=23.0))
    assert by_id(diag.evaluate(24.0))["worker.registered"].status == "ok"


def test_worker_registered_after_the_room_fails_until_agents_join() -> None:
    diag = engine()
    wall = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    diag.apply(RoomCreated(ROOM, wall, wall + timedelta(seconds=10), at=10.0))  # created at 0
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW", "", AGENT_NAME), at=7.0))
    check = by_id(diag.evaluate(11.0))["worker.before_room"]
    assert check.status == "fail" and "7 s after" in check.finding
    diag.apply(ObserverStatus(ROOM, "connected", at=11.0))
    agent(diag, TIM, 12.0)
    assert by_id(diag.evaluate(12.0))["worker.before_room"].status == "ok"


def test_worker_registered_after_the_room_is_resolved_by_a_new_dispatch() -> None:
    diag = engine()
    wall = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    diag.apply(RoomCreated(ROOM, wall, wall + timedelta(seconds=1), at=1.0))  # created at 0
    diag.apply(
        DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME),), at=1.0)
    )  # came with the room
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW", "", AGENT_NAME), at=3.0))
    check = by_id(diag.evaluate(3.1))["worker.before_room"]
    assert check.status == "fail" and "3 s after room" in check.finding
    assert check.fix.startswith("press d to re-dispatch")
    # key d: a dispatch made after the registration is waited for, not blamed
    diag.apply(
        DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME), Dispatch("AD_2", AGENT_NAME)), at=5.0)
    )
    assert by_id(diag.evaluate(5.1))["worker.before_room"].status == "pending"
    diag.apply(
        DispatchesListed(
            ROOM, (Dispatch("AD_1", AGENT_NAME), Dispatch("AD_2", AGENT_NAME, 1)), at=9.0
        )
    )
    assert by_id(diag.evaluate(9.1))["worker.before_room"].status == "ok"


def test_worker_registered_after_a_room_without_our_dispatch_is_not_blamed() -> None:
    diag = engine()
    wall = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    diag.apply(RoomCreated(ROOM, wall, wall + timedelta(seconds=1), at=1.0))
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", "someone-else"),), at=1.0))
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW", "", AGENT_NAME), at=3.0))
    checks = by_id(diag.evaluate(4.0))
    assert checks["worker.before_room"].status == "pending"
    assert checks["dispatch.agent_name"].status == "fail"  # the real problem, said there


def test_missing_agent_is_not_blamed_while_the_dispatch_is_young() -> None:
    diag = engine(thresholds=Thresholds(dispatch_job_s=3.0, agent_join_s=5.0))
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    wall = datetime(2025, 1, 1, tzinfo=UTC)
    diag.apply(RoomCreated(ROOM, wall, wall, at=0.0))
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME),), at=0.0))
    assert by_id(diag.evaluate(1.0))["room.dispatcher"].status == "pending"
    check = by_id(diag.evaluate(3.5))["room.dispatcher"]  # the dispatch counts as unanswered
    assert check.status == "fail" and "no dispatcher agent" in check.finding


def test_dispatch_without_job_fails_after_threshold() -> None:
    diag = engine(thresholds=Thresholds(dispatch_job_s=3.0))
    wall = datetime(2025, 1, 1, tzinfo=UTC)
    diag.apply(RoomCreated(ROOM, wall, wall + timedelta(seconds=1), at=1.0))  # created at 0
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME),), at=1.0))
    assert by_id(diag.evaluate(2.9))["dispatch.job"].status == "pending"
    check = by_id(diag.evaluate(3.1))["dispatch.job"]
    assert check.status == "fail" and "no job was accepted" in check.finding
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME, num_jobs=1),), at=6.0))
    assert by_id(diag.evaluate(6.0))["dispatch.job"].status == "ok"


def test_later_dispatch_is_timed_from_when_it_was_seen() -> None:
    diag = engine()
    diag.apply(DispatchesListed(ROOM, (), at=0.0))
    assert by_id(diag.evaluate(0.0))["dispatch.job"].status == "warn"
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_2", AGENT_NAME),), at=50.0))
    assert by_id(diag.evaluate(52.0))["dispatch.job"].status == "pending"
    assert by_id(diag.evaluate(54.0))["dispatch.job"].status == "fail"


def test_agent_name_mismatch() -> None:
    diag = engine()
    diag.apply(WorkerStatusChanged(WorkerStatus("registered", "AW", "", AGENT_NAME), at=0.0))
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", "someone-else"),), at=0.0))
    check = by_id(diag.evaluate(1.0))["dispatch.agent_name"]
    assert check.status == "fail"
    assert "'someone-else'" in check.finding and repr(AGENT_NAME) in check.finding


def test_external_worker_is_inferred_from_the_dispatch() -> None:
    diag = engine(in_process_worker=False)
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", AGENT_NAME),), at=0.0))
    checks = by_id(diag.evaluate(5.0))
    assert checks["worker.registered"].status == "fail"
    assert "worker.before_room" not in checks and "worker.log" not in checks


def test_openai_key_missing_rejected_and_realtime_failing() -> None:
    diag = engine()
    diag.apply(VoiceConfigured("realtime", key_present=False))
    assert by_id(diag.evaluate(1.0))["openai.key"].finding == "OPENAI_API_KEY is not set"
    diag.apply(VoiceConfigured("realtime", key_present=True))
    diag.apply(
        SessionEvent(
            ROOM,
            TIM,
            "dispatcher",
            "error",
            {
                "error": "Error code: 401 invalid_api_key",
                "source": "RealtimeModel",
                "recoverable": False,
            },
            at=2.0,
        )
    )
    checks = by_id(diag.evaluate(3.0))
    assert checks["openai.key"].status == "fail" and "rejected" in checks["openai.key"].finding
    assert checks["openai.realtime"].status == "fail"
    assert checks["session.dispatcher"].status == "fail"


def test_realtime_errors_the_session_survived_say_what_happened() -> None:
    diag = engine()
    diag.apply(VoiceConfigured("realtime", key_present=True))

    def error(text: str, at: float) -> Check:
        payload = {"error": text, "source": "RealtimeModel", "recoverable": True}
        diag.apply(SessionEvent(ROOM, CHRIS, "driver", "error", payload, at=at))
        return by_id(diag.evaluate(at))["openai.realtime"]

    limited = error("response failed: rate_limit_exceeded: Rate limit reached", 1.0)
    assert limited.status == "warn" and limited.finding.startswith("OpenAI rate-limited")
    assert "rate limits" in limited.fix
    dropped = error("OpenAI Realtime API connection closed unexpectedly", 2.0)
    assert dropped.status == "warn" and dropped.finding.startswith("OpenAI error: ")
    turn(diag, "dispatcher", 0.5, at=2.5)  # the other agent's turn proves nothing (and its
    assert by_id(diag.evaluate(2.5))["openai.realtime"].finding.startswith("OpenAI error: ")
    turn(diag, "driver", 0.5, at=3.0)  # events may overtake); the driver's own turn does
    recovered = by_id(diag.evaluate(3.0))["openai.realtime"]
    assert recovered.status == "warn" and recovered.finding.startswith("recovered from: ")
    assert "OPENAI_BASE_URL" in recovered.fix
    assert by_id(diag.evaluate(3.0))["session.driver"].status != "fail"  # it survived


def test_slow_reply_warns_with_the_cause_for_the_voice() -> None:
    diag = engine(thresholds=Thresholds(slow_reply_s=3.0))
    diag.apply(VoiceConfigured("realtime", key_present=True))
    assert by_id(diag.evaluate(1.0))["voice.reply"].status == "pending"
    turn(diag, "dispatcher", 0.3, at=1.0)
    assert by_id(diag.evaluate(1.0))["voice.reply"].status == "pending"  # Chris not heard yet
    turn(diag, "driver", 5.2, at=7.0)
    slow = by_id(diag.evaluate(7.0))["voice.reply"]
    assert slow.status == "warn"
    assert slow.finding == "Chris's last reply began 5.2 s after being asked (over 3 s)"
    assert "OPENAI_BASE_URL" in slow.fix
    turn(diag, "driver", 0.6, at=9.0)  # the next reply is prompt again
    assert by_id(diag.evaluate(9.0))["voice.reply"].status == "ok"
    diag.apply(VoiceConfigured("offline"))
    turn(diag, "dispatcher", 4.0, at=12.0)
    assert "CPU" in by_id(diag.evaluate(12.0))["voice.reply"].fix


def test_turns_without_timings_pass() -> None:
    diag = engine()
    turn(diag, "dispatcher", None, at=1.0)
    turn(diag, "driver", None, at=2.0)
    check = by_id(diag.evaluate(2.0))["voice.reply"]
    assert check.status == "ok" and check.finding == "replies not timed by this worker"


def test_offline_voice_needs_no_key() -> None:
    diag = engine()
    diag.apply(VoiceConfigured("offline", key_present=False))
    checks = by_id(diag.evaluate(1.0))
    assert checks["openai.key"].status == checks["openai.realtime"].status == "ok"


def test_session_failed_shows_its_error() -> None:
    diag = engine()
    diag.apply(
        SessionEvent(ROOM, CHRIS, "driver", "session_failed", {"error": "no room\nat all"}, at=1.0)
    )
    check = by_id(diag.evaluate(1.0))["session.driver"]
    assert check.status == "fail" and check.finding == "did not start: no room at all"


def test_missing_agent_and_unmatched_identity() -> None:
    diag = engine(thresholds=Thresholds(agent_join_s=5.0))
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, "agent_abc123", 1.0)
    assert by_id(diag.evaluate(4.0))["room.driver"].status == "pending"
    checks = by_id(diag.evaluate(6.0))
    assert checks["room.dispatcher"].status == "fail"
    assert "agent_abc123" in checks["room.dispatcher"].finding
    unmatched = checks["room.unmatched"]
    assert unmatched.status == "fail"
    assert unmatched.finding.startswith("agent_abc123: identity 'agent_abc123'")
    assert "neither filter" in unmatched.finding


def test_agent_that_left_is_reported() -> None:
    from tui.core.events import ParticipantLeft

    diag = engine()
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 1.0)
    diag.apply(ParticipantLeft(ROOM, TIM, "client_initiated", at=2.0))
    check = by_id(diag.evaluate(4.0))["room.dispatcher"]
    assert check.status == "fail" and "left 2 s ago" in check.finding


def test_audio_track_missing_muted_failed_and_silent() -> None:
    diag = engine(thresholds=Thresholds(track_grace_s=5.0, silent_speaking_s=1.5))
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 0.0, with_track=False)
    assert by_id(diag.evaluate(6.0))["audio.dispatcher"].finding.endswith("no audio track for 6 s")
    diag.apply(TrackUpdate(ROOM, TIM, "TR_1", status="published", muted=True, at=6.0))
    assert "is muted" in by_id(diag.evaluate(6.0))["audio.dispatcher"].finding
    diag.apply(TrackUpdate(ROOM, TIM, "TR_1", status="subscription_failed", error="ice", at=7.0))
    assert "could not subscribe" in by_id(diag.evaluate(7.0))["audio.dispatcher"].finding
    diag.apply(TrackUpdate(ROOM, TIM, "TR_1", status="subscribed", at=8.0))
    diag.apply(
        AttributesChanged(ROOM, TIM, freeze_attributes({AGENT_STATE_ATTRIBUTE: "speaking"}), at=8.0)
    )
    diag.apply(AudioLevel(ROOM, TIM, QUIET, at=8.5))
    assert by_id(diag.evaluate(9.0))["audio.dispatcher"].status == "ok"
    check = by_id(diag.evaluate(9.6))["audio.dispatcher"]
    assert check.status == "fail" and "published but silent" in check.finding
    diag.apply(AudioLevel(ROOM, TIM, LOUD, at=9.7))
    assert by_id(diag.evaluate(9.8))["audio.dispatcher"].status == "ok"


def test_default_thresholds_report_a_missing_track_within_5_s_of_joining() -> None:
    diag = engine()  # the budget: 5 s from the join, with the default configuration
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 10.0, with_track=False)
    # a healthy agent publishes ~0.6 s after joining (and is subscribed ~0.3 s later)
    assert by_id(diag.evaluate(12.0))["audio.dispatcher"].status == "pending"
    check = by_id(diag.evaluate(14.9))["audio.dispatcher"]
    assert check.status == "fail"
    assert check.finding == f"{TIM} has published no audio track for 5 s"


def test_track_never_subscribed_fails_after_the_grace() -> None:
    diag = engine(thresholds=Thresholds(track_grace_s=3.0))
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 0.0, with_track=False)
    diag.apply(TrackUpdate(ROOM, TIM, "TR_1", source="microphone", status="published", at=1.0))
    check = by_id(diag.evaluate(3.9))["audio.dispatcher"]
    assert check.status == "pending" and "not subscribed yet" in check.finding
    check = by_id(diag.evaluate(4.2))["audio.dispatcher"]
    assert check.status == "fail"
    assert check.finding == "could not subscribe to TR_1: published 3 s ago, still not subscribed"
    assert "subscription permissions" in check.fix
    diag.apply(TrackUpdate(ROOM, TIM, "TR_1", source="microphone", status="subscribed", at=5.0))
    assert by_id(diag.evaluate(5.1))["audio.dispatcher"].status != "fail"


@dataclass
class _Participant:
    joined_at: datetime | None


def test_a_live_join_is_dated_by_the_server_within_a_bound() -> None:
    from tui.core.rtc_names import MAX_ANNOUNCE_DELAY_S, server_join_time

    now = datetime.now(UTC)
    late = _Participant(now - timedelta(seconds=2.8))  # announced 2.8 s after joining
    assert 97.1 < server_join_time(late, 100.0) < 97.3  # type: ignore[arg-type]
    assert server_join_time(_Participant(None), 100.0) == 100.0  # type: ignore[arg-type]
    ahead = _Participant(now + timedelta(seconds=30))  # a server clock ahead of ours
    assert server_join_time(ahead, 100.0) == 100.0  # type: ignore[arg-type]
    behind = _Participant(now - timedelta(hours=1))  # or far behind: bounded
    assert server_join_time(behind, 100.0) == 100.0 - MAX_ANNOUNCE_DELAY_S  # type: ignore[arg-type]


def test_only_one_agent_speaking() -> None:
    diag = engine(thresholds=Thresholds(one_sided_s=4.0))
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 0.0)
    agent(diag, CHRIS, 0.0)
    diag.apply(AudioLevel(ROOM, TIM, LOUD, at=1.0))
    assert by_id(diag.evaluate(4.0))["speaking.one_sided"].status == "pending"
    check = by_id(diag.evaluate(5.5))["speaking.one_sided"]
    assert check.status == "fail" and check.finding.startswith("only Tim is speaking")


def test_both_speaking_at_once_is_heard_in_the_audio_while_it_goes_on() -> None:
    diag = engine()
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 0.0)
    agent(diag, CHRIS, 0.0)
    for step in range(15):
        diag.apply(AudioLevel(ROOM, TIM, LOUD, at=1.0 + step / 10))
        diag.apply(AudioLevel(ROOM, CHRIS, LOUD, at=1.0 + step / 10))
    # both still talking: the overlap counts before either interval has closed
    check = by_id(diag.evaluate(2.4))["turn.overlap"]
    assert check.status == "fail" and f"{TIM} and {CHRIS} spoke at the same time" in check.finding
    assert by_id(diag.evaluate(2.4))["turn.deadlock"].status == "ok"

    # the server's active speakers lag the audio: they are no evidence of an overlap
    other = engine()
    other.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(other, TIM, 0.0)
    agent(other, CHRIS, 0.0)
    other.apply(ActiveSpeakers(ROOM, (TIM, CHRIS), at=1.0))
    assert by_id(other.evaluate(2.1))["turn.overlap"].status == "ok"


def test_everyone_listening_in_silence_is_a_deadlock_while_it_lasts() -> None:
    diag = engine()
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 0.0)
    assert by_id(diag.evaluate(1.0))["turn.deadlock"].status == "pending"
    agent(diag, CHRIS, 1.0)
    for step in range(80):  # both listening, levels of silence only
        at = 1.0 + step / 10
        diag.apply(AudioLevel(ROOM, TIM, QUIET, at=at))
        diag.apply(AudioLevel(ROOM, CHRIS, QUIET, at=at))
    assert by_id(diag.evaluate(6.5))["turn.deadlock"].status == "ok"
    check = by_id(diag.evaluate(8.9))["turn.deadlock"]
    assert check.status == "fail" and "were all listening and nobody spoke" in check.finding
    assert "so far" in check.finding
    # Tim takes the turn: the deadlock is over, and it stays on record
    speaking = freeze_attributes({AGENT_STATE_ATTRIBUTE: "speaking"})
    diag.apply(AttributesChanged(ROOM, TIM, speaking, at=9.0))
    for step in range(20):
        diag.apply(AudioLevel(ROOM, TIM, LOUD, at=9.0 + step / 10))
        diag.apply(AudioLevel(ROOM, CHRIS, QUIET, at=9.0 + step / 10))
    check = by_id(diag.evaluate(11.0))["turn.deadlock"]
    assert check.status == "fail" and "so far" not in check.finding and "(1 time)" in check.finding


def test_quick_turn_changes_are_no_overlap_however_many() -> None:
    """Measured on healthy offline calls on a loaded machine: at a quick turn change the next
    line is heard up to 0.55 s before the last one's tail; eight of them are no overlap."""
    diag = engine()
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0))
    agent(diag, TIM, 0.0)
    agent(diag, CHRIS, 0.0)
    for turn in range(8):
        start, end = 1.0 + 4 * turn, 4.5 + 4 * turn  # the next turn starts 0.5 s early
        speaker = TIM if turn % 2 == 0 else CHRIS
        for step in range(int((end - start) * 10) + 1):
            diag.apply(AudioLevel(ROOM, speaker, LOUD, at=start + step / 10))
        for step in range(1, 3):  # a trailing quiet level closes the interval
            diag.apply(AudioLevel(ROOM, speaker, QUIET, at=end + step / 10))
    check = by_id(diag.evaluate(36.0))["turn.overlap"]
    assert check.status == "ok", check
    # both at once for 1.5 s is an overlap that fails
    for step in range(16):
        diag.apply(AudioLevel(ROOM, TIM, LOUD, at=40.0 + step / 10))
        diag.apply(AudioLevel(ROOM, CHRIS, LOUD, at=40.0 + step / 10))
    assert by_id(diag.evaluate(41.6))["turn.overlap"].status == "fail"


def test_worker_log_errors_counted_redacted_and_aged() -> None:
    diag = engine()
    clock = iter([10.0, 11.0])
    counter = LogErrorCounter(lambda: next(clock), lambda: ["s3cr3t-value"])
    logger = logging.getLogger("test.diagnostics")
    logger.addHandler(counter)
    try:
        logger.warning("not counted")
        logger.error("first")
        logger.error("key %s leaked", "s3cr3t-value")
    finally:
        logger.removeHandler(counter)
    errors = counter.take()
    assert errors is not None and counter.take() is None  # reported once, until the next error
    diag.apply(errors)
    check = by_id(diag.evaluate(12.0))["worker.log"]
    assert check.status == "fail"
    assert check.finding == "2 error(s); last 1 s ago: test.diagnostics: key *** leaked"
    assert by_id(diag.evaluate(100.0))["worker.log"].status == "warn"


def test_stale_room_data_is_ignored_after_a_switch() -> None:
    diag = engine()
    diag.apply(DispatchesListed(ROOM, (Dispatch("AD_1", "wrong"),), at=0.0))
    diag.state.reset("another", now=1.0)
    assert by_id(diag.evaluate(2.0))["dispatch.agent_name"].status == "pending"


def test_summary_names_the_worst_checks() -> None:
    checks = [Check("a", "A", "ok", ""), Check("b", "B", "fail", ""), Check("c", "C", "warn", "")]
    assert worst(checks) == "fail"
    assert summary(checks) == "checks: 1 fail (b)"
    assert worst([]) == "ok"


# --------------------------------------------------------------------------- boundaries and panel


async def test_screen_shows_checks_with_status_classes_and_closes_on_t() -> None:
    from textual.app import App

    from tui.ui.screens.diagnostics import DiagnosticsScreen
    from tui.ui.widgets.diagnostics_panel import CheckRow, DiagnosticsPanel

    checks = [
        Check("room.unmatched", "Agents match a role", "fail", "[b]agent_abc123[/b]", "fix"),
        Check("server.reachable", "Server", "ok", "answers"),
    ]

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(DiagnosticsScreen(lambda: list(checks), interval_s=0.05))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiagnosticsScreen)
        rows = {row.id: row for row in screen.query(CheckRow)}
        assert rows["check-room-unmatched"].has_class("-fail")
        assert rows["check-server-reachable"].has_class("-ok")
        # text from the room is shown literally, never as markup
        assert "[b]agent_abc123[/b]" in str(rows["check-room-unmatched"].render())
        checks[0] = Check("room.unmatched", "Agents match a role", "ok", "all match")
        await pilot.pause(0.2)
        assert screen.query_one("#check-room-unmatched", CheckRow).has_class("-ok")
        assert "all 2 ok" in str(
            screen.query_one(DiagnosticsPanel).query_one("#diagnostics-summary").render()
        )
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, DiagnosticsScreen)
