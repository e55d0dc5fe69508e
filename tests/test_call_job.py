"""Calls of two, three and six agents end to end: a real livekit-server, the worker in-process
(offline voice, thread executor), rooms created through ``dispatch-tui create-room`` or the
control plane, and the dashboard's own observer (:class:`tui.core.observer.RoomObserver`) checking
what a viewer of the room gets: every agent with its own identity, name and role attribute,
audible, its own lines in the moderated order, and never two agents speaking at once.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import PROJECT, scaled
from livekit.agents import AgentServer
from reliability_support import thread_worker

from agents.constants import AGENT_STATE_ATTRIBUTE, ROLE_ATTRIBUTE, SAID_LINES_ATTRIBUTE
from agents.said_lines import SaidLines, decode_said
from agents.scenario import Scenario, load_scenario, parse_scenario
from agents.tokens import observer_token
from tui.cluster.load import RoomWatch
from tui.commands.cli import run_cli
from tui.core.control_plane import ControlPlane
from tui.core.events import (
    AttributesChanged,
    AudioLevel,
    DomainEvent,
    ParticipantJoined,
    SessionEvent,
)
from tui.core.local_server import LocalServer
from tui.core.observer import RoomObserver

pytestmark = pytest.mark.e2e

CALL_TIMEOUT_S = 90.0
AUDIBLE_DBFS = -35.0
"""An agent's loudest 100 ms while it speaks: espeak reaches about -15 dBFS, silence far less."""
SLACK_S = 0.05
"""Agents' state attributes reach the observer over separate signal paths (see
test_worker_e2e); the worker's own turn timings check the hand-over exactly."""


@pytest.fixture(scope="module")
async def worker(livekit_server: LocalServer) -> AsyncIterator[AgentServer]:
    async with thread_worker(livekit_server) as running:
        yield running


@dataclass
class CallWatch:
    """What the observer saw of one call, on top of the cluster tests' :class:`RoomWatch`."""

    watch: RoomWatch
    joined: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Identity -> (name, role attribute) as the agent joined."""
    loudest: dict[str, float] = field(default_factory=dict)
    states: list[tuple[float, str, str]] = field(default_factory=list)
    events: list[SessionEvent] = field(default_factory=list)
    said: dict[str, SaidLines] = field(default_factory=dict)
    """Identity -> the last said-lines attribute (agents.said_lines) the observer saw."""

    def sink(self, event: DomainEvent) -> None:
        self.watch.sink(event)
        if isinstance(event, ParticipantJoined | AttributesChanged):
            said = decode_said(dict(event.attributes).get(SAID_LINES_ATTRIBUTE, ""))
            if said is not None:
                self.said[event.identity] = said
        if isinstance(event, ParticipantJoined):
            attributes = dict(event.attributes)
            self.joined[event.identity] = (event.name, attributes.get(ROLE_ATTRIBUTE, ""))
            if (state := attributes.get(AGENT_STATE_ATTRIBUTE)) is not None:
                self.states.append((event.at, event.identity, state))
        elif isinstance(event, AudioLevel):
            self.loudest[event.identity] = max(
                self.loudest.get(event.identity, -200.0), event.rms_dbfs
            )
        elif isinstance(event, AttributesChanged):
            if (state := dict(event.changed).get(AGENT_STATE_ATTRIBUTE)) is not None:
                self.states.append((event.at, event.identity, state))
        elif isinstance(event, SessionEvent):
            self.events.append(event)

    def of(self, kind: str) -> list[SessionEvent]:
        return [event for event in self.events if event.kind == kind]

    def speaking(self, identity: str) -> list[tuple[float, float]]:
        """The observer's view of when ``identity`` was speaking."""
        intervals: list[tuple[float, float]] = []
        started: float | None = None
        for at, who, state in self.states:
            if who != identity:
                continue
            if state == "speaking" and started is None:
                started = at
            elif state != "speaking" and started is not None:
                intervals.append((started, at))
                started = None
        return intervals


async def watch_call(server: LocalServer, room: str, scenario: Scenario) -> CallWatch:
    """Observe ``room`` like the dashboard until its agents spoke and left."""
    agents = frozenset(persona.identity for persona in scenario.agents)
    call = CallWatch(RoomWatch(room, server.url, server.url, agents, time.monotonic()))
    token = observer_token(server.api_key, server.api_secret, room)
    async with RoomObserver(server.url, token, room, call.sink):
        ended = await call.watch.wait_until(lambda w: w.completed, scaled(CALL_TIMEOUT_S))
    assert ended, f"{room}: the call did not end with every agent leaving: {call.watch.lines}"
    return call


def assert_moderated_call(
    call: CallWatch, scenario: Scenario, lines: Sequence[tuple[str, str]], reason: str
) -> None:
    """Every agent joined as itself, was heard, said its own lines in ``lines``' order, alone."""
    personas = {persona.identity: persona for persona in scenario.agents}
    assert call.joined == {i: (p.name, p.role) for i, p in personas.items()}
    for identity, persona in personas.items():
        assert call.loudest.get(identity, -200.0) > AUDIBLE_DBFS, f"{persona.name} not heard"
        own = [text for role, text in lines if role == persona.role]
        assert call.watch.said_by(identity) == own, call.watch.lines
        # what an observer recovers a cut line from, before the agent left
        assert call.said[identity] == SaidLines(len(own), tuple(own)), persona.name
    assert call.watch.call_order() == list(lines)
    started = {event.role: event.payload for event in call.of("session_started")}
    assert {role: p["identity"] for role, p in started.items()} == {
        p.role: p.identity for p in scenario.agents
    }
    voices = {p["voice"]["voice"] for p in started.values()}
    assert len(voices) == len(scenario.agents), "each agent has an offline voice of its own"
    [ended] = call.of("conversation_ended")
    assert (ended.payload["reason"], ended.payload["turns"]) == (reason, len(lines))

    # one speaker at a time: as the observer saw the state attributes...
    for a, b in itertools.combinations(personas, 2):
        for a_start, a_end in call.speaking(a):
            for b_start, b_end in call.speaking(b):
                assert a_end <= b_start + SLACK_S or b_end <= a_start + SLACK_S, (a, b)
    # ...and exactly, as the worker timed each line
    timings = sorted((e.payload["index"], e.payload) for e in call.of("turn"))
    for (_, before), (_, after) in itertools.pairwise(timings):
        assert after["started_speaking_at"] > before["stopped_speaking_at"]


def create_room_with_the_cli(server: LocalServer, path: Path) -> str:
    """``dispatch-tui create-room PATH``: the room name it prints."""
    environ = {
        "LIVEKIT_URL": server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": server.api_secret,
    }
    out, err = io.StringIO(), io.StringIO()
    with ThreadPoolExecutor(1) as pool:  # run_cli calls asyncio.run: keep it off this loop
        code = pool.submit(
            run_cli, ["create-room", str(path)], environ=environ, stdout=out, stderr=err
        ).result(timeout=scaled(30))
    assert code == 0, err.getvalue()
    return out.getvalue().strip()


async def test_the_bundled_three_agent_call_through_create_room(
    worker: AgentServer, livekit_server: LocalServer
) -> None:
    path = PROJECT / "scenarios" / "kdc-3107.json"
    scenario = load_scenario(path)
    room = create_room_with_the_cli(livekit_server, path)
    call = await watch_call(livekit_server, room, scenario)
    lines = [(line.speaker, line.text) for line in scenario.script]
    assert_moderated_call(call, scenario, lines, "goodbye")
    print(f"\n{room}: {len(lines)} lines, loudest dBFS {call.loudest}")


def listed(agents: list[tuple[str, str]], script: list[tuple[str, str]]) -> Scenario:
    """A list-form scenario of ``(role, name)`` agents speaking ``script``."""
    data: dict[str, Any] = json.loads((PROJECT / "scenarios" / "kdc-3107.json").read_text())
    data["agents"] = [
        {"role": role, "name": name, "identity": f"{role}-{name.lower()}"} for role, name in agents
    ]
    data["script"] = [{"speaker": role, "text": text} for role, text in script]
    data["max_turns"] = len(script) + 2  # the goodbyes end the call, not the count
    del data["expect"]  # its contracts name the bundled roles
    return parse_scenario(data, "test")


SIX = [
    ("dispatcher", "Tim"),
    ("driver", "Chris"),
    ("receiver", "Rosa"),
    ("shipper", "Sam"),
    ("broker", "Lee"),
    ("lumper", "Ana"),
]


async def test_six_agents_each_speak_in_turn(
    worker: AgentServer, livekit_server: LocalServer, control_plane: ControlPlane
) -> None:
    # offline, the script's order is the floor's: here the list backwards, which neither the
    # next in the list nor a name (nobody is named) would give
    script = [("dispatcher", "Quick check on the load, everyone.")]
    script += [(role, f"{name} here, all set, bye.") for role, name in reversed(SIX[1:])]
    script += [("dispatcher", "Thanks all, goodbye.")]
    scenario = listed(SIX, script)
    room = (await control_plane.create_room(scenario)).name
    call = await watch_call(livekit_server, room, scenario)
    assert_moderated_call(call, scenario, script, "goodbye")


async def test_two_listed_agents_of_other_roles_talk_like_the_pair(
    worker: AgentServer, livekit_server: LocalServer, control_plane: ControlPlane
) -> None:
    # the job participant is the first listed agent, whatever its role
    script = [
        ("broker", "Hi Dana, Lee from the brokerage about HDX-2478."),
        ("carrier", "Hi Lee, Dana here. Go ahead."),
        ("broker", "The load is confirmed. Goodbye."),
        ("carrier", "Thanks, bye."),
    ]
    scenario = listed([("broker", "Lee"), ("carrier", "Dana")], script)
    room = (await control_plane.create_room(scenario)).name
    call = await watch_call(livekit_server, room, scenario)
    assert_moderated_call(call, scenario, script, "goodbye")
