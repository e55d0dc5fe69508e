"""An agent's departure reaches the observer after every line it said (tui.core.observer with
tui.core.said_ledger): against a real livekit-server, a stand-in agent whose last line never
arrives as a transcript; and the observer's own rule for a late copy of a recovered line."""

from __future__ import annotations

import asyncio

import pytest
from test_observer import Recorder, fresh_room, join_stand_in, observer_token

import tui.core.observer as observer_module
from agents.constants import (
    SAID_LINES_ATTRIBUTE,
    TRANSCRIPTION_FINAL_ATTRIBUTE,
    TRANSCRIPTION_TOPIC,
)
from agents.said_lines import encode_said
from tui.core.events import (
    ParticipantJoined,
    ParticipantLeft,
    TranscriptSegment,
)
from tui.core.local_server import LocalServer
from tui.core.observer import RoomObserver

CHRIS = "driver-chris"
LINES = ["Hey Tim, go ahead.", "Goodbye Tim."]


async def test_a_line_said_but_never_streamed_arrives_before_the_departure(
    livekit_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observer_module, "DEPARTURE_WAIT_S", 1.0)
    recorder = Recorder()
    async with fresh_room(livekit_server) as (_, room_name):
        chris = await join_stand_in(livekit_server, room_name, CHRIS, "driver", amplitude=None)
        observer = RoomObserver(
            livekit_server.url, observer_token(livekit_server, room_name), room_name, recorder
        )
        async with observer:
            await recorder.wait_for(ParticipantJoined, lambda e: e.identity == CHRIS)
            writer = await chris.room.local_participant.stream_text(topic=TRANSCRIPTION_TOPIC)
            await writer.write(LINES[0])
            await writer.aclose(attributes={TRANSCRIPTION_FINAL_ATTRIBUTE: "true"})
            await recorder.wait_for(TranscriptSegment, lambda e: e.final)
            # the second line is said (the attribute) and its stream never comes: it was cut
            await chris.room.local_participant.set_attributes(
                {SAID_LINES_ATTRIBUTE: encode_said(LINES)}
            )
            await chris.aclose()
            left = await recorder.wait_for(ParticipantLeft, lambda e: e.identity == CHRIS)
            finals = [e for e in recorder.of(TranscriptSegment) if e.final]
            assert [e.text for e in finals] == LINES, "the first line once, the second recovered"
            recovered = finals[-1]
            assert recovered.segment_id == f"said:{CHRIS}:1"
            events = recorder.events
            assert events.index(recovered) < events.index(left), "the line before the departure"


async def test_a_departure_owing_nothing_recovers_nothing(
    livekit_server: LocalServer,
) -> None:
    recorder = Recorder()
    async with fresh_room(livekit_server) as (_, room_name):
        chris = await join_stand_in(livekit_server, room_name, CHRIS, "driver", amplitude=None)
        observer = RoomObserver(
            livekit_server.url, observer_token(livekit_server, room_name), room_name, recorder
        )
        async with observer:
            await recorder.wait_for(ParticipantJoined, lambda e: e.identity == CHRIS)
            writer = await chris.room.local_participant.stream_text(topic=TRANSCRIPTION_TOPIC)
            await writer.write(LINES[0])
            await writer.aclose(attributes={TRANSCRIPTION_FINAL_ATTRIBUTE: "true"})
            await chris.room.local_participant.set_attributes(
                {SAID_LINES_ATTRIBUTE: encode_said(LINES[:1])}
            )
            await recorder.wait_for(TranscriptSegment, lambda e: e.final)
            await chris.aclose()
            await recorder.wait_for(ParticipantLeft, lambda e: e.identity == CHRIS)
            assert [e.text for e in recorder.of(TranscriptSegment) if e.final] == LINES[:1]


async def test_a_late_copy_of_a_recovered_line_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(observer_module, "DEPARTURE_WAIT_S", 0.1)
    recorder = Recorder()
    observer = RoomObserver("ws://127.0.0.1:1", "token", "room", recorder)  # never started
    said = ((SAID_LINES_ATTRIBUTE, encode_said(LINES[1:])),)
    observer._emit(ParticipantJoined("room", CHRIS, attributes=said))
    observer._emit(ParticipantLeft("room", CHRIS))
    await recorder.wait_for(ParticipantLeft)
    # the stream of the line recovered at the departure comes after all
    observer._emit(TranscriptSegment("room", CHRIS, "SG_late", LINES[1], final=True))
    finals = [e for e in recorder.of(TranscriptSegment) if e.final]
    assert [(e.segment_id, e.text) for e in finals] == [(f"said:{CHRIS}:0", LINES[1])]
    # the same identity joining again is a new session: its lines count again
    observer._emit(ParticipantJoined("room", CHRIS))
    observer._emit(TranscriptSegment("room", CHRIS, "SG_new", "Hello again.", final=True))
    assert recorder.of(TranscriptSegment)[-1].segment_id == "SG_new"
    await asyncio.sleep(0)
