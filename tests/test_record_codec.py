"""events.jsonl lines: every event type round-trips, clock fields are relative, bad lines fail
in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core.events import (
    DOMAIN_EVENT_TYPES,
    ActiveSpeakers,
    AttributesChanged,
    AudioLevel,
    ConnectionQualityChanged,
    JobsListed,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    RoomJob,
    SessionEvent,
    TrackUpdate,
    TranscriptSegment,
)
from tui.core.infra_events import DispatchesListed, ListedDispatch, WorkerLogErrors
from tui.core.record.codec import (
    EVENT_TYPES,
    RECORDED_INFRA_TYPES,
    RecordError,
    decode,
    encode,
    read_events,
)
from tui.core.record.notes import (
    RECORD_NOTE_TYPES,
    AudioFile,
    Finding,
    LogError,
    RecordClosed,
    RecordStarted,
    Speech,
)

T0 = 1000.0
R = "room_a"
SAMPLES = [
    ObserverStatus(R, "connected", "observing", at=T0 + 0.5),
    ParticipantJoined(
        R, "tim", "Tim", "agent", (("dispatch.role", "dispatcher"),), "PA_1", at=T0 + 1
    ),
    ParticipantLeft(R, "tim", "client_initiated", at=T0 + 20),
    AttributesChanged(
        R, "tim", (("lk.agent.state", "speaking"),), (("lk.agent.state", "speaking"),), at=T0 + 2
    ),
    TrackUpdate(
        R, "tim", "TR_1", "roomio_audio", "microphone", "audio", False, "subscribed", at=T0 + 1.2
    ),
    ActiveSpeakers(R, ("tim", "chris"), at=T0 + 3),
    AudioLevel(R, "tim", -21.25, "TR_1", at=T0 + 3.1),
    ConnectionQualityChanged(R, "tim", "excellent", at=T0 + 4),
    TranscriptSegment(R, "tim", "SG_1", 'Hi "Chris" \u00e9\n', True, "TR_1", at=T0 + 5),
    SessionEvent(
        R,
        "tim",
        "dispatcher",
        "turn",
        {"index": 0, "e2e_latency": None, "nested": [1, {"a": 2.5}]},
        3,
        1.7e9,
        at=T0 + 6,
    ),
    JobsListed(
        R,
        (
            RoomJob("AJ_1", "AW_1", "running", "AD_1", "tim", "", None),
            RoomJob("AJ_2", "", "unassigned", "AD_2", "", "", 1.7e9),
        ),
        at=T0 + 7,
    ),
    DispatchesListed(R, (ListedDispatch("AD_1", "dispatch-agents", 1),), at=T0 + 7.5),
    WorkerLogErrors(2, "livekit.agents: boom", T0 + 8.5, at=T0 + 8.6),
    RecordStarted(R, "HDX-2478", "2025-01-01T00:00:00.000Z", at=T0),
    Speech(R, "tim", T0 + 1.25, T0 + 4.5, at=T0 + 5.1),
    Finding(R, "audio.driver", "Chris's audio", "fail", "silent", "check TTS", at=T0 + 8),
    LogError(R, "livekit.agents", "boom", at=T0 + 9),
    AudioFile(R, "tim", "tim.wav", T0 + 1.1, 16000, 12.5, 0.0, at=T0 + 30),
    RecordClosed(R, "quit", "2025-01-01T00:00:30.000Z", 2, True, at=T0 + 30),
]


def test_the_samples_cover_every_type() -> None:
    recorded = (*DOMAIN_EVENT_TYPES, *RECORDED_INFRA_TYPES, *RECORD_NOTE_TYPES)
    assert {type(event) for event in SAMPLES} == set(recorded)
    assert set(EVENT_TYPES) == {cls.__name__ for cls in recorded}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_every_event_round_trips_on_the_record_clock(event: object) -> None:
    line = encode(event, T0)
    assert "\n" not in line
    back = decode(line)
    assert type(back) is type(event)
    assert back.at == pytest.approx(event.at - T0)  # type: ignore[attr-defined]
    for name in event.__dataclass_fields__:  # type: ignore[attr-defined]
        if name in ("at", "start"):
            continue
        expected = getattr(event, name)
        if name == "end" and isinstance(event, Speech):
            expected -= T0
        assert getattr(back, name) == expected, name


def test_clock_fields_marked_in_notes_are_relative() -> None:
    back = decode(encode(Speech(R, "tim", T0 + 1.25, T0 + 4.5, at=T0 + 5.1), T0))
    assert (back.start, back.end, back.at) == (1.25, 4.5, pytest.approx(5.1))


def test_non_finite_floats_become_null() -> None:
    line = encode(AudioLevel(R, "tim", float("-inf"), at=T0), T0)
    assert '"rms_dbfs":null' in line


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"type": "Nope"}', "unknown event type 'Nope'"),
        ('{"type": "AudioLevel", "room": "r"}', "AudioLevel"),
        (
            '{"type": "AudioLevel", "room": "r", "identity": "x", "rms_dbfs": 1, "bad": 1}',
            "unknown fields",
        ),
        ('{"type": "ActiveSpeakers", "room": "r", "identities": "x"}', "expected a list"),
    ],
)
def test_bad_lines_fail_with_one_line(line: str, problem: str) -> None:
    with pytest.raises(RecordError, match=problem) as info:
        decode(line)
    assert "\n" not in str(info.value)


def test_reader_names_the_line_and_refuses_a_cut_record(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = encode(SAMPLES[0], T0)
    path.write_text(f"{good}\n\n{good}\n")
    assert len(list(read_events(path))) == 2
    path.write_text(f"{good}\n{good[:20]}")
    with pytest.raises(RecordError, match="line 2 is cut short"):
        list(read_events(path))
    path.write_text(f"{good}\n{{\n")
    with pytest.raises(RecordError, match="line 2: not JSON"):
        list(read_events(path))
