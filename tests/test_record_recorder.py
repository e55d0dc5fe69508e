"""The recorder and its writer thread, fed by hand: what lands on disk and what the loop pays.

A synthetic two-agent call (real ``rtc.AudioFrame`` tones and silence, events as the observer
makes them) goes through :class:`CallRecorder`; the real-call version is test_record_e2e.py.
"""

from __future__ import annotations

import json
import math
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc

from tui.core.diagnostics.check import Check
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    ParticipantJoined,
    ParticipantLeft,
    SessionEvent,
    TranscriptSegment,
)
from tui.core.record.codec import read_events
from tui.core.record.notes import AudioFile, RecordClosed, RecordStarted, Speech
from tui.core.record.recorder import CallRecorder, tee
from tui.core.record.store import Retention, RunStore
from tui.core.record.writer import RecordWriter

RATE = 16_000
FRAME = 800  # 50 ms, as the observer's meter reads them
ROOM = "room_synthetic"


def tone(loud: bool) -> rtc.AudioFrame:
    t = np.arange(FRAME) / RATE
    samples = (np.sin(2 * math.pi * 220 * t) * (8000 if loud else 0)).astype(np.int16)
    return rtc.AudioFrame(samples.tobytes(), RATE, 1, FRAME)


def joined(identity: str, name: str, role: str, at: float) -> ParticipantJoined:
    attrs = (("dispatch.role", role), ("lk.agent.state", "listening"))
    return ParticipantJoined(ROOM, identity, name, "agent", attrs, at=at)


def state(identity: str, role: str, value: str, at: float) -> AttributesChanged:
    attrs = (("dispatch.role", role), ("lk.agent.state", value))
    return AttributesChanged(ROOM, identity, attrs, (("lk.agent.state", value),), at=at)


def synthetic_call(recorder: CallRecorder, t0: float) -> None:
    """Tim speaks 0.5-2.0 s, Chris 2.4-3.4 s, on the recorder's clock (levels every 0.1 s)."""
    recorder.apply(joined("dispatcher-tim", "Tim", "dispatcher", t0 + 0.1))
    recorder.apply(joined("driver-chris", "Chris", "driver", t0 + 0.1))
    speaking = {"dispatcher-tim": (5, 20), "driver-chris": (24, 34)}  # in 0.1 s steps
    roles = {"dispatcher-tim": "dispatcher", "driver-chris": "driver"}
    for step in range(1, 41):  # 4 s of 0.1 s levels, two 50 ms frames each
        at = t0 + step * 0.1
        for identity, (start, end) in speaking.items():
            loud = start < step <= end
            for _ in range(2):
                recorder.audio(identity, tone(loud))
            recorder.apply(AudioLevel(ROOM, identity, -20.0 if loud else -100.0, at=at))
            if step == start:
                recorder.apply(state(identity, roles[identity], "speaking", at))
            if step == end:
                recorder.apply(state(identity, roles[identity], "listening", at))
    recorder.apply(TranscriptSegment(ROOM, "dispatcher-tim", "SG_1", "Hi", False, at=t0 + 0.6))
    recorder.apply(TranscriptSegment(ROOM, "dispatcher-tim", "SG_1", "Hi Chris", True, at=t0 + 1.9))
    recorder.apply(TranscriptSegment(ROOM, "driver-chris", "SG_2", "Hey", True, at=t0 + 3.0))
    turn = {"index": 0, "llm_node_ttft": 0.5, "tts_node_ttfb": 0.2, "e2e_latency": None}
    recorder.apply(SessionEvent(ROOM, "dispatcher-tim", "dispatcher", "turn", turn, at=t0 + 2.0))
    ended = {"reason": "max_turns", "turns": 2}
    recorder.apply(
        SessionEvent(ROOM, "dispatcher-tim", "", "conversation_ended", ended, at=t0 + 3.6)
    )
    recorder.apply(ParticipantLeft(ROOM, "dispatcher-tim", at=t0 + 4.0))
    recorder.apply(ParticipantLeft(ROOM, "driver-chris", at=t0 + 4.0))


def test_a_synthetic_call_leaves_events_wavs_and_a_report(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path, ROOM, scenario="HDX-2478")
    synthetic_call(recorder, recorder.t0)
    recorder.finding(Check("audio.driver", "Chris's audio", "fail", "silent", "check TTS"))
    recorder.log_error("livekit.agents", "boom")
    assert recorder.close("test over") == tmp_path
    recorder.apply(AudioLevel(ROOM, "late", -20.0))  # after close: ignored
    assert recorder.close() == tmp_path  # idempotent

    events = list(read_events(tmp_path / "events.jsonl"))
    assert isinstance(events[0], RecordStarted) and events[0].at == 0.0
    assert isinstance(events[-1], RecordClosed) and events[-1].reason == "test over"
    speech = {e.identity: (e.start, e.end) for e in events if isinstance(e, Speech)}
    assert speech["dispatcher-tim"] == (
        pytest.approx(0.55, abs=0.01),
        pytest.approx(1.95, abs=0.01),
    )
    assert speech["driver-chris"] == (pytest.approx(2.45, abs=0.01), pytest.approx(3.35, abs=0.01))
    files = {e.identity: e for e in events if isinstance(e, AudioFile)}
    for identity in ("dispatcher-tim", "driver-chris"):
        with wave.open(str(tmp_path / files[identity].file), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
            assert wav.getnframes() == 80 * FRAME  # 4 s, nothing lost
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["room"] == ROOM and report["scenario"] == "HDX-2478"
    assert report["ended_reason"] == "max_turns"
    assert list(report["agents"]) == ["dispatcher-tim", "driver-chris"]
    tim, chris = report["agents"]["dispatcher-tim"], report["agents"]["driver-chris"]
    assert (tim["name"], tim["role"], tim["turns"]) == ("Tim", "dispatcher", 1)
    assert chris["latency"]["p50"] == pytest.approx(0.5, abs=0.01)
    assert tim["pipeline"]["llm_ttft_s"] == {"p50": 0.5, "p95": 0.5, "count": 1}
    assert report["turn_taking"]["response_gap_s"]["count"] == 1
    assert report["turn_taking"]["deadlocks"] == 0
    assert [line["text"] for line in report["transcript"]] == ["Hi Chris", "Hey"]
    ids = [finding["id"] for finding in report["findings"]]
    assert ids[:2] == ["audio.driver", "worker.log"]  # failures first
    assert {"turn.overlap", "turn.deadlock"} <= set(ids)
    assert report["recording"]["dropped"] == 0 and report["recording"]["complete"]
    assert report["recording"]["bytes"] > 2 * 80 * FRAME * 2


def test_lost_frames_are_filled_with_silence_to_stay_on_the_clock(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path, 0.0, max_bytes=10**9)
    writer.submit(("event", RecordStarted(ROOM, "", "2025-01-01T00:00:00Z", at=0.0)))
    writer.submit(("audio", "tim", 1.05, tone(True)))  # covers 1.00-1.05
    writer.submit(("audio", "tim", 3.05, tone(True)))  # 2 s later: 1.95 s were lost
    writer.stop("done", "", 4.0)
    (audio,) = [e for e in read_events(tmp_path / "events.jsonl") if isinstance(e, AudioFile)]
    assert audio.start == pytest.approx(1.0)
    assert audio.filled_s == pytest.approx(1.95)
    assert audio.seconds == pytest.approx(2.05)


def test_the_size_limit_stops_audio_but_not_events(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path, 0.0, max_bytes=5 * FRAME * 2)
    for i in range(20):
        writer.submit(("audio", "tim", 0.05 * (i + 1), tone(True)))
    writer.submit(("event", AudioLevel(ROOM, "tim", -20.0, at=2.0)))
    writer.stop("done", "", 2.0)
    events = list(read_events(tmp_path / "events.jsonl"))
    assert isinstance(events[-1], RecordClosed) and events[-1].audio_cut
    assert any(isinstance(e, AudioLevel) for e in events)
    with wave.open(str(tmp_path / "tim.wav"), "rb") as wav:
        assert wav.getnframes() <= 6 * FRAME


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path, 0.0, max_bytes=10**9, queue_items=10)
    # the thread drains every 50 ms: 1000 items at once overflow a queue of 10
    started = time.perf_counter()
    for i in range(1000):
        writer.submit(("event", AudioLevel(ROOM, "tim", -20.0, at=i * 0.001)))
    assert time.perf_counter() - started < 0.5
    writer.stop("done", "", 1.0)
    closed = list(read_events(tmp_path / "events.jsonl"))[-1]
    assert isinstance(closed, RecordClosed) and closed.dropped == writer.dropped > 0


def test_a_bad_item_does_not_stop_the_writer(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path, 0.0, max_bytes=10**9)
    writer.submit(("event", object()))  # not recordable: logged, skipped
    writer.submit(("event", AudioLevel(ROOM, "tim", -20.0, at=0.5)))
    writer.stop("done", "", 1.0)
    kinds = [type(e).__name__ for e in read_events(tmp_path / "events.jsonl")]
    assert kinds == ["AudioLevel", "RecordClosed"]


def test_start_uses_the_store_and_its_size_budget(tmp_path: Path) -> None:
    store = RunStore(tmp_path, Retention(max_runs=2, max_mb=1.0))
    first = CallRecorder.start(store, "room/one")
    assert first.run_dir == tmp_path / "room_one"
    first.close()
    second = CallRecorder.start(store, "room/one")
    assert second.run_dir.name == "room_one.2"
    second.close()


def test_tee_feeds_every_sink() -> None:
    seen: list[tuple[str, object]] = []
    sink = tee(lambda e: seen.append(("a", e)), lambda e: seen.append(("b", e)))
    sink(1)
    assert seen == [("a", 1), ("b", 1)]
