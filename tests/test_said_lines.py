"""The said-lines attribute's codec (agents.said_lines); its path through a real room is covered
by tests/test_said_ledger.py. A stand-in room for the one case a real server does not give on
demand: an update the server never answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
from livekit import rtc

import agents.said_lines as said_lines
from agents.said_lines import SaidLines, SaidLinesPublisher, decode_said, encode_said


def test_round_trip_keeps_every_line_and_the_count() -> None:
    lines = ["Hi Chris, Tim here.", "Goodbye, Chris — see you."]
    assert decode_said(encode_said(lines)) == SaidLines(2, tuple(lines))


def test_only_the_newest_lines_that_fit_are_kept_but_the_count_is_all() -> None:
    lines = [f"line {i:02d} " + "x" * 40 for i in range(10)]
    said = decode_said(encode_said(lines, max_chars=150))
    assert said is not None
    assert said.count == 10
    assert said.lines == tuple(lines[-3:])  # 3 lines of 48 characters fit in 150


def test_one_line_longer_than_the_cap_is_cut_not_dropped() -> None:
    said = decode_said(encode_said(["y" * 50], max_chars=20))
    assert said == SaidLines(1, ("y" * 20,))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[1, 2]",
        json.dumps({"v": 2, "n": 1, "lines": ["a"]}),
        json.dumps({"v": 1, "n": "1", "lines": ["a"]}),
        json.dumps({"v": 1, "n": 1, "lines": [1]}),
        json.dumps({"v": 1, "n": 0, "lines": ["more lines than the count"]}),
    ],
)
def test_unreadable_values_are_skipped(value: str) -> None:
    assert decode_said(value) is None


class _UnansweredParticipant:
    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.asked.append(attributes)
        await asyncio.Event().wait()  # removed from the room: no answer ever comes


class _RoomWithoutAnswers:
    def __init__(self) -> None:
        self.local_participant = _UnansweredParticipant()

    def isconnected(self) -> bool:
        return True


async def test_an_update_the_server_never_answers_does_not_hold_the_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(said_lines, "UPDATE_TIMEOUT_S", 0.1)
    room = _RoomWithoutAnswers()
    publisher = SaidLinesPublisher(cast(rtc.Room, cast(Any, room)))
    publisher.add("Hey Tim.")
    publisher.add("Goodbye Tim.")
    await asyncio.wait_for(publisher.flush(), timeout=10)
    assert len(room.local_participant.asked) == 2, "the second update still went out"
