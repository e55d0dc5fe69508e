"""Every line an agent said reaches the observer's sink, its departure after them
(tui.core.line_keeper in the observer): against a real livekit-server, a stand-in agent whose
last line never arrives as a transcript and an observer that joins after an agent spoke; then
the keeper alone, for a late copy of a recovered line."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from livekit import rtc
from test_observer import Recorder, fresh_room, join_stand_in, observer_token

import tui.core.line_keeper as line_keeper
from agents.constants import (
    SAID_LINES_ATTRIBUTE,
    TRANSCRIPTION_FINAL_ATTRIBUTE,
    TRANSCRIPTION_TOPIC,
)
from agents.said_lines import encode_said
from tui.core.events import (
    AttributesChanged,
    DomainEvent,
    ParticipantJoined,
    ParticipantLeft,
    TranscriptSegment,
)
from tui.core.line_keeper import LineKeeper
from tui.core.local_server import LocalServer
from tui.core.observer import RoomObserver

CHRIS = "driver-chris"


async def say_final(room: rtc.Room, text: str) -> None:
    """``text`` as one final transcript segment of ``room``'s participant."""
    writer = await room.local_participant.stream_text(topic=TRANSCRIPTION_TOPIC)
    await writer.write(text)
    await writer.aclose(attributes={TRANSCRIPTION_FINAL_ATTRIBUTE: "true"})


async def list_said(room: rtc.Room, lines: list[str]) -> None:
    """Publish ``lines`` as ``room``'s participant's said-lines attribute, as an agent does."""
    await room.local_participant.set_attributes({SAID_LINES_ATTRIBUTE: encode_said(lines)})


def observing(server: LocalServer, room_name: str, recorder: Recorder) -> RoomObserver:
    return RoomObserver(server.url, observer_token(server, room_name), room_name, recorder)


LINES = ["Hey Tim, go ahead.", "Goodbye Tim."]


async def test_a_line_said_but_never_streamed_arrives_before_the_departure(
    livekit_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_keeper, "DEPARTURE_WAIT_S", 1.0)
    recorder = Recorder()
    async with fresh_room(livekit_server) as (_, room_name):
        chris = await join_stand_in(livekit_server, room_name, CHRIS, "driver", amplitude=None)
        async with observing(livekit_server, room_name, recorder):
            await recorder.wait_for(ParticipantJoined, lambda e: e.identity == CHRIS)
            await say_final(chris.room, LINES[0])
            await recorder.wait_for(TranscriptSegment, lambda e: e.final)
            # the second line is said (the attribute) and its stream never comes: it was cut
            await list_said(chris.room, LINES)
            await chris.aclose()
            left = await recorder.wait_for(ParticipantLeft, lambda e: e.identity == CHRIS)
            finals = [e for e in recorder.of(TranscriptSegment) if e.final]
            assert [e.text for e in finals] == LINES, "the first line once, the second recovered"
            recovered = finals[-1]
            assert recovered.segment_id == f"said:{CHRIS}:1"
            events = recorder.events
            assert events.index(recovered) < events.index(left), "the line before the departure"


async def test_a_line_never_streamed_arrives_in_its_place_before_the_next(
    livekit_server: LocalServer,
) -> None:
    recorder = Recorder()
    async with fresh_room(livekit_server) as (_, room_name):
        chris = await join_stand_in(livekit_server, room_name, CHRIS, "driver", amplitude=None)
        try:
            async with observing(livekit_server, room_name, recorder):
                await recorder.wait_for(ParticipantJoined, lambda e: e.identity == CHRIS)
                # the first line is said (the attribute) and its stream never comes
                await list_said(chris.room, LINES[:1])
                await recorder.wait_for(AttributesChanged, lambda e: e.identity == CHRIS)
                await say_final(chris.room, LINES[1])
                second = await recorder.wait_for(
                    TranscriptSegment, lambda e: e.final and e.text == LINES[1]
                )
                finals = [e for e in recorder.of(TranscriptSegment) if e.final]
                assert [e.text for e in finals] == LINES, "in the order said"
                assert finals[0].segment_id == f"said:{CHRIS}:0"
                assert finals[1] is second
        finally:
            await chris.aclose()


async def test_a_departure_owing_nothing_recovers_nothing(
    livekit_server: LocalServer,
) -> None:
    recorder = Recorder()
    async with fresh_room(livekit_server) as (_, room_name):
        chris = await join_stand_in(livekit_server, room_name, CHRIS, "driver", amplitude=None)
        async with observing(livekit_server, room_name, recorder):
            await recorder.wait_for(ParticipantJoined, lambda e: e.identity == CHRIS)
            await say_final(chris.room, LINES[0])
            await list_said(chris.room, LINES[:1])
            await recorder.wait_for(TranscriptSegment, lambda e: e.final)
            await chris.aclose()
            await recorder.wait_for(ParticipantLeft, lambda e: e.identity == CHRIS)
            assert [e.text for e in recorder.of(TranscriptSegment) if e.final] == LINES[:1]


async def test_an_observer_joining_late_gets_the_lines_said_before(
    livekit_server: LocalServer,
) -> None:
    recorder = Recorder()
    async with fresh_room(livekit_server) as (_, room_name):
        chris = await join_stand_in(livekit_server, room_name, CHRIS, "driver", amplitude=None)
        try:
            await list_said(chris.room, LINES)
            async with observing(livekit_server, room_name, recorder):
                joined = await recorder.wait_for(ParticipantJoined, lambda e: e.identity == CHRIS)
                finals = [e for e in recorder.of(TranscriptSegment) if e.final]
                assert [e.text for e in finals] == LINES
                assert [e.segment_id for e in finals] == [f"said:{CHRIS}:{i}" for i in (0, 1)]
                assert recorder.events.index(joined) < recorder.events.index(finals[0])
        finally:
            await chris.aclose()


def _keeper(delivered: list[DomainEvent]) -> tuple[LineKeeper, set[asyncio.Task[None]]]:
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None], _name: str) -> None:
        tasks.add(asyncio.ensure_future(coro))

    return LineKeeper("room", delivered.append, spawn, lambda _identity: False), tasks


async def test_a_late_copy_of_a_recovered_line_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(line_keeper, "DEPARTURE_WAIT_S", 0.1)
    delivered: list[DomainEvent] = []
    keeper, tasks = _keeper(delivered)
    keeper.emit(ParticipantJoined("room", CHRIS))
    said = ((SAID_LINES_ATTRIBUTE, encode_said(LINES[1:])),)
    keeper.emit(AttributesChanged("room", CHRIS, said, said))
    keeper.emit(ParticipantLeft("room", CHRIS))
    assert not any(isinstance(e, ParticipantLeft) for e in delivered), "held for the line"
    await asyncio.gather(*tasks)
    assert isinstance(delivered[-1], ParticipantLeft)
    # the stream of the line recovered at the departure comes after all
    keeper.emit(TranscriptSegment("room", CHRIS, "SG_late", LINES[1], final=True))
    finals = [e for e in delivered if isinstance(e, TranscriptSegment) and e.final]
    assert [(e.segment_id, e.text) for e in finals] == [(f"said:{CHRIS}:0", LINES[1])]
    # the same identity joining again is a new session: its lines count again
    keeper.emit(ParticipantJoined("room", CHRIS))
    keeper.emit(TranscriptSegment("room", CHRIS, "SG_new", "Hello again.", final=True))
    assert isinstance(delivered[-1], TranscriptSegment) and delivered[-1].segment_id == "SG_new"


def test_a_departure_owing_nothing_is_delivered_at_once() -> None:
    delivered: list[DomainEvent] = []
    keeper, tasks = _keeper(delivered)
    said = ((SAID_LINES_ATTRIBUTE, encode_said(LINES[:1])),)
    keeper.emit(ParticipantJoined("room", CHRIS))
    keeper.emit(TranscriptSegment("room", CHRIS, "SG_1", LINES[0], final=True))
    keeper.emit(AttributesChanged("room", CHRIS, said, said))
    keeper.emit(ParticipantLeft("room", CHRIS))
    assert not tasks and isinstance(delivered[-1], ParticipantLeft)
