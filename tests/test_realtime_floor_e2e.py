"""The realtime voice's floor with three agents, end to end: three OpenAI realtime sessions (the
plugin talking to the local stand-in of OpenAI's Realtime API, ``tests/realtime_standin.py``)
on a real livekit-server, watched as the dashboard watches a call.

The script names who should answer each line, in an order that is never the next in the list,
so the order the observer sees says whether the floor followed the names (``agents.floor``) or
went round the list. With ``"turn_order": "round_robin"`` the same lines go in list order: a
realtime model is asked in turn and says its next line, whoever was named.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import pytest
from call_watch import CallWatch, overlaps
from realtime_standin import RealtimeStandIn
from realtime_support import (
    AUDIBLE_DBFS,
    assert_nothing_left,
    create_call_room,
    fresh,
    realtime_watch,
    realtime_worker,
)

from agents.scenario import Scenario, parse_scenario
from tui.core.events import SessionEvent
from tui.core.local_server import LocalServer
from tui.core.worker_runner import InProcessWorker

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parent.parent
AGENTS: Final = (  # list order: role, name, voice
    ("dispatcher", "Tim", "alloy"),
    ("driver", "Chris", "echo"),
    ("receiver", "Rosa", "shimmer"),
)
NAME = {role: name for role, name, _ in AGENTS}
IDENTITY = {role: f"{role}-{name.lower()}" for role, name, _ in AGENTS}
VOICE = {role: voice for role, _, voice in AGENTS}
ADDRESSED_SCRIPT: Final = (  # each line names the next speaker, never the next in the list
    ("dispatcher", "Rosa, is the dock ready for HDX-2478?"),
    ("receiver", "Yes, door four. Chris, back in when you arrive."),
    ("driver", "Will do. Tim, I am twenty minutes out."),
    ("dispatcher", "Thanks Chris. Rosa, that is all from me, goodbye."),
    ("receiver", "Goodbye Tim. Chris, see you at door four, bye."),
    ("driver", "Bye Rosa, bye Tim."),
)
ROUND_ROBIN: Final = ("dispatcher", "driver", "receiver") * 2
OVERLAP_SLACK_S = 0.3
"""Each agent's audio reaches the observer on its own track, through its own jitter buffer, and
a level report covers 0.1 s: beside a burner a hand-over the worker timed as a gap was heard
with 0.12 s of overlap. A floor that fails plays two lines together: seconds. The worker's turn
timings check the hand-over exactly."""


def three_agents(turn_order: str = "addressed") -> Scenario:
    """Tim, Chris and Rosa (list form) on :data:`ADDRESSED_SCRIPT`; the goodbyes end it."""
    data: dict[str, Any] = json.loads((PROJECT / "scenarios" / "kdc-3107.json").read_text())
    data["agents"] = [
        {"role": role, "name": name, "identity": IDENTITY[role], "voice": voice}
        for role, name, voice in AGENTS
    ]
    data["script"] = [{"speaker": role, "text": text} for role, text in ADDRESSED_SCRIPT]
    data["max_turns"] = len(ADDRESSED_SCRIPT) + 2  # the goodbyes end the call, not the count
    data["turn_order"] = turn_order
    del data["expect"]  # its contracts are the bundled call's
    return parse_scenario(data, "realtime-floor-test")


def lines_of(role: str) -> list[str]:
    return [text for who, text in ADDRESSED_SCRIPT if who == role]


def expected_call(speakers: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(role, text)`` in call order when ``speakers`` take the floor: each says its next line."""
    due = {role: iter(lines_of(role)) for role in NAME}
    return [(role, next(due[role])) for role in speakers]


@pytest.fixture(scope="module")
async def stand_in() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn(three_agents()) as running:
        yield running


@pytest.fixture(scope="module")
async def worker(
    livekit_server: LocalServer, stand_in: RealtimeStandIn
) -> AsyncIterator[InProcessWorker]:
    async with realtime_worker(livekit_server, stand_in) as running:
        yield running


@pytest.mark.parametrize(
    ("turn_order", "speakers"),
    [
        ("addressed", tuple(role for role, _ in ADDRESSED_SCRIPT)),
        ("round_robin", ROUND_ROBIN),
    ],
)
async def test_the_realtime_floor_passes_to_the_agent_named_or_round_the_list(
    turn_order: str,
    speakers: tuple[str, ...],
    livekit_server: LocalServer,
    stand_in: RealtimeStandIn,
    worker: InProcessWorker,
) -> None:
    await fresh(stand_in)
    threads_before = set(threading.enumerate())
    call = expected_call(speakers)
    room = await create_call_room(livekit_server, three_agents(turn_order), dispatch=True)
    async with realtime_watch(livekit_server, room, worker) as watch:
        ended = await watch.wait_for_session("conversation_ended", 90)
        assert ended["reason"] == "goodbye" and ended["turns"] == len(call), ended
        await assert_nothing_left(
            livekit_server, room, stand_in, threads_before, tuple(IDENTITY.values())
        )

        # the worker's turns, in order: who held the floor and what it said
        turns = [
            (event.role, event.payload)
            for event in watch.events
            if isinstance(event, SessionEvent) and event.kind == "turn"
        ]
        assert [(role, p["text"]) for role, p in turns] == call
        assert [p["index"] for _, p in turns] == list(range(len(call)))

        # the observer heard each agent say its own lines, word for word, and heard it aloud
        for role, identity in IDENTITY.items():
            assert watch.final_lines(identity) == lines_of(role), role
            assert watch.loudest(identity) > AUDIBLE_DBFS, f"{NAME[role]} not heard"
            assert len(watch.speaking_intervals(identity)) == 2, role

        # one at a time: each line starts after the last one stopped, no two agents at once
        gaps = [
            b["started_speaking_at"] - a["stopped_speaking_at"]
            for (_, a), (_, b) in itertools.pairwise(turns)
        ]
        assert all(gap > 0 for gap in gaps), gaps
        _assert_no_overlap(watch)
        print(f"\n{turn_order}: turn gaps (s) {[round(g, 3) for g in gaps]}")
    _assert_everyone_heard_every_line(stand_in, call)


def _assert_no_overlap(watch: CallWatch) -> None:
    """No two agents audible at once, as the observer heard them. Their state attributes are
    not the measure: each agent's reaches the observer on its own signal path, and beside a
    burner one arrived 0.33 s after the next agent's "speaking" while the worker's own
    timestamps had them a gap apart."""
    for one, other in itertools.combinations(IDENTITY.values(), 2):
        heard = [watch.audible_intervals(who, AUDIBLE_DBFS) for who in (one, other)]
        assert all(heard), (one, other, heard)
        assert not overlaps(*heard, OVERLAP_SLACK_S), (one, other, heard)


def _assert_everyone_heard_every_line(
    stand_in: RealtimeStandIn, call: list[tuple[str, str]]
) -> None:
    """What each session received as user lines (the stand-in's log): every other agent's line
    in call order, named by its speaker, all of them before its own last turn (the relay stops
    telling once the call is over)."""
    role_of = {voice: role for role, voice in VOICE.items()}
    heard: dict[str, list[str]] = {role: [] for role in NAME}
    for record in stand_in.events("conversation.item.create"):
        item = record["event"].get("item", {})
        if item.get("role") == "user":
            heard[role_of[record["voice"]]].append(item["content"][0]["text"])
    for role in NAME:
        others = [f"{NAME[who]}: {text}" for who, text in call if who != role]
        last_turn = max(i for i, (who, _) in enumerate(call) if who == role)
        before = [f"{NAME[who]}: {text}" for who, text in call[:last_turn] if who != role]
        assert heard[role][: len(before)] == before, (role, heard[role])
        assert heard[role] == others[: len(heard[role])], (role, heard[role])
