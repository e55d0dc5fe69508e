"""The turn relay: pure bookkeeping, and the driver against fake sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers import PROJECT
from livekit.agents import llm

from agents.floor import Floor
from agents.party_agent import agent_for
from agents.scenario import load_scenario
from agents.turn_relay import (
    RelayError,
    RelayParty,
    TurnBook,
    TurnRelay,
    chat_context_listener,
    is_goodbye,
)
from agents.voices import build_session


def test_goodbye_detection() -> None:
    assert is_goodbye("Thanks Chris. Drive safe. Goodbye.")
    assert is_goodbye("OK, bye!")
    assert is_goodbye("good-bye then")
    assert not is_goodbye("Maybe by noon.")
    assert not is_goodbye("That is a byelaw matter.")


def test_turnbook_alternates_from_the_opener_and_rejects_out_of_turn_lines() -> None:
    book = TurnBook(first="dispatcher", max_turns=8)
    expected = [book.expected_role]
    book.record("dispatcher", "Hello")
    expected.append(book.expected_role)
    assert expected == ["dispatcher", "driver"]
    with pytest.raises(RelayError):
        book.record("dispatcher", "Hello again")
    book.record("driver", "Hi")
    assert [t.index for t in book.turns] == [0, 1]


def test_turnbook_stops_at_max_turns_or_after_both_goodbyes() -> None:
    book = TurnBook(first="dispatcher", max_turns=3)
    book.record("dispatcher", "Goodbye.")
    assert book.stop_reason() is None  # one goodbye is not the end of the call
    book.record("driver", "Wait, one more thing.")
    assert book.stop_reason() is None
    book.record("dispatcher", "Go on.")
    assert book.stop_reason() == "max_turns"

    book = TurnBook(first="dispatcher", max_turns=8)
    book.record("dispatcher", "Thanks, goodbye.")
    book.record("driver", "Bye Tim.")
    assert book.stop_reason() == "goodbye"


def test_turnbook_of_three_stops_once_every_party_took_leave() -> None:
    floor = Floor(("dispatcher", "driver", "receiver"), ("Tim", "Chris", "Rosa"))
    book = TurnBook(first="dispatcher", max_turns=10, floor=floor)
    book.record("dispatcher", "Rosa, goodbye.")
    with pytest.raises(RelayError):
        book.record("driver", "Not my turn.")  # Rosa was addressed
    book.record("receiver", "Bye. Chris, your turn.")
    assert book.stop_reason() is None  # Chris has not said a word yet
    book.record("driver", "Bye all.")
    assert book.stop_reason() == "goodbye"


def test_turnbook_gaps() -> None:
    book = TurnBook(first="dispatcher", max_turns=8)
    book.record("dispatcher", "a", started_speaking_at=0.0, stopped_speaking_at=1.0)
    book.record("driver", "b", started_speaking_at=1.25, stopped_speaking_at=2.0)
    book.record("dispatcher", "c")
    assert book.gaps() == [0.25]


@dataclass
class FakeHandle:
    """Stands in for a SpeechHandle: awaiting it plays the line out."""

    session: FakeSession
    text: str | None
    error: BaseException | None = None

    def __await__(self) -> Any:
        return self.session.play(self).__await__()

    def exception(self) -> BaseException | None:
        return self.error


@dataclass
class FakeSession:
    """An AgentSession double: speaks its lines in order, emitting the session's events."""

    lines: list[str | None]
    log: list[tuple[str, Any]]
    name: str
    agent_state: str = "listening"
    fail_at: int | None = None
    reply_delay_s: float | None = None
    """Wait this long, then speak at the real wall-clock time (None: fixed fake times)."""
    framework_e2e: float | None = None
    """An ``e2e_latency`` the framework itself put in the message metrics."""
    handlers: dict[str, list[Callable[[Any], None]]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    heard_by_call: list[list[str]] = field(default_factory=list)
    """What the session had heard when each reply was asked of it."""

    async def hear(self, line: str) -> None:
        await asyncio.sleep(0.01)  # a context update takes a moment: the relay must wait for it
        self.heard.append(line)

    def on(self, event: str, callback: Callable[[Any], None] | None = None) -> Any:
        assert callback is not None
        self.handlers.setdefault(event, []).append(callback)
        return callback

    def off(self, event: str, callback: Callable[[Any], None]) -> None:
        self.handlers[event].remove(callback)

    def emit(self, event: str, payload: Any) -> None:
        for callback in list(self.handlers.get(event, [])):
            callback(payload)

    def generate_reply(self, *, user_input: Any = None, instructions: Any = None) -> FakeHandle:
        index = len(self.calls)
        self.calls.append({"user_input": user_input, "instructions": instructions})
        self.heard_by_call.append(list(self.heard))
        error = RuntimeError("model refused") if index == self.fail_at else None
        text = self.lines[index] if index < len(self.lines) else None
        return FakeHandle(self, None if error else text, error)

    def _state(self, new: str) -> None:
        old, self.agent_state = self.agent_state, new
        self.emit("agent_state_changed", _State(old, new))

    async def play(self, handle: FakeHandle) -> None:
        if handle.text is None:
            return
        started = 1.0
        if self.reply_delay_s is not None:
            await asyncio.sleep(self.reply_delay_s)
            started = time.time()
        self._state("speaking")
        self.log.append(("start", self.name))
        await asyncio.sleep(0)  # let the other side run: it must not start now
        self.log.append(("stop", self.name))
        metrics: llm.MetricsReport = {"started_speaking_at": started, "stopped_speaking_at": 2.0}
        if self.framework_e2e is not None:
            metrics["e2e_latency"] = self.framework_e2e
        message = llm.ChatMessage(role="assistant", content=[handle.text], metrics=metrics)
        self.emit("conversation_item_added", _Item(message))
        self._state("listening")


@dataclass
class _State:
    old_state: str
    new_state: str


@dataclass
class _Item:
    item: llm.ChatMessage


def make_relay(
    tim_lines: list[str | None], chris_lines: list[str | None], max_turns: int = 8, **tim: Any
) -> tuple[TurnRelay, FakeSession, FakeSession, list[tuple[str, Any]]]:
    log: list[tuple[str, Any]] = []
    tim_session = FakeSession(tim_lines, log, "tim", **tim)
    chris_session = FakeSession(chris_lines, log, "chris")
    relay = TurnRelay(
        RelayParty("dispatcher", tim_session),
        RelayParty("driver", chris_session),
        max_turns=max_turns,
        opening_instructions="open the call",
    )
    return relay, tim_session, chris_session, log


async def test_relay_alternates_passes_text_and_never_overlaps() -> None:
    relay, tim, chris, log = make_relay(
        ["Hello Chris.", "It moved up.", "Thanks, goodbye."],
        ["Hi Tim.", "Got it.", "Bye."],
    )
    result = await relay.run()
    assert result.reason == "goodbye"
    assert [(t.role, t.text) for t in result.turns] == [
        ("dispatcher", "Hello Chris."),
        ("driver", "Hi Tim."),
        ("dispatcher", "It moved up."),
        ("driver", "Got it."),
        ("dispatcher", "Thanks, goodbye."),
        ("driver", "Bye."),
    ]
    # Tim opens with instructions; everyone else answers what they just heard
    assert tim.calls[0] == {"user_input": None, "instructions": "open the call"}
    assert [c["user_input"] for c in chris.calls] == [
        "Hello Chris.",
        "It moved up.",
        "Thanks, goodbye.",
    ]
    assert [c["user_input"] for c in tim.calls[1:]] == ["Hi Tim.", "Got it."]
    # strictly start/stop pairs: nobody starts while the other is speaking
    assert [kind for kind, _ in log] == ["start", "stop"] * 6
    assert result.turns[0].started_speaking_at == 1.0
    assert not tim.handlers["conversation_item_added"], "handlers are removed after the run"


async def test_relay_times_each_reply_from_ask_to_first_audio() -> None:
    relay, *_ = make_relay(["a", "b"], ["x", "y"], max_turns=2, reply_delay_s=0.3)
    result = await relay.run()
    tim_reply = result.turns[0].metrics["e2e_latency"]
    assert 0.3 <= tim_reply < 0.3 + 1.0, tim_reply
    # a line with fixed fake times (started "at 1.0", long ago) is never negative
    assert result.turns[1].metrics["e2e_latency"] == 0.0


async def test_relay_keeps_the_frameworks_own_timing() -> None:
    relay, *_ = make_relay(["a"], ["x"], max_turns=1, reply_delay_s=0.0, framework_e2e=0.42)
    result = await relay.run()
    assert result.turns[0].metrics["e2e_latency"] == 0.42


async def test_relay_stops_at_max_turns() -> None:
    relay, *_ = make_relay(["a", "b", "c"], ["x", "y", "z"], max_turns=3)
    result = await relay.run()
    assert result.reason == "max_turns"
    assert len(result.turns) == 3


async def test_relay_stops_when_a_party_has_nothing_to_say() -> None:
    relay, *_ = make_relay(["a", "b"], ["x"])
    result = await relay.run()
    assert result.reason == "no_reply"
    assert [t.text for t in result.turns] == ["a", "x", "b"]


async def test_relay_reports_a_failed_reply() -> None:
    relay, *_ = make_relay(["a", "b"], ["x", "y"], fail_at=1)
    result = await relay.run()
    assert result.reason == "error"
    assert "model refused" in result.detail


async def test_relay_ends_when_a_session_closes() -> None:
    relay, _tim, chris, _ = make_relay(["a", "b"], ["x", "y"])
    original_play = chris.play

    async def play_then_close(handle: FakeHandle) -> None:
        chris.emit("close", object())
        await asyncio.Event().wait()  # a session that closed never finishes its playout
        await original_play(handle)

    chris.play = play_then_close  # type: ignore[method-assign]
    result = await asyncio.wait_for(relay.run(), 5)
    assert result.reason == "closed"
    assert [t.text for t in result.turns] == ["a"]


def three_parties(
    rosa_hear: Callable[[str], Any] | None = None,
) -> tuple[TurnRelay, dict[str, FakeSession], list[tuple[str, Any]]]:
    log: list[tuple[str, Any]] = []
    tim = FakeSession(
        ["Hi Chris, hi Rosa. Chris, where are you?", "Confirmed. Rosa, book it. Goodbye."],
        log,
        "Tim",
    )
    chris = FakeSession(
        ["Near Vail. Rosa, can you take me later?", "Good. Tim, can you confirm?", "Bye all."],
        log,
        "Chris",
    )
    rosa = FakeSession(["Noon works, Chris.", "Booked. Goodbye Chris."], log, "Rosa")
    relay = TurnRelay(
        RelayParty("dispatcher", tim, "Tim", tim.hear),
        RelayParty("driver", chris, "Chris", chris.hear),
        RelayParty("receiver", rosa, "Rosa", rosa_hear or rosa.hear),
        max_turns=10,
        opening_instructions="open the call",
    )
    return relay, {"Tim": tim, "Chris": chris, "Rosa": rosa}, log


async def test_three_parties_pass_the_floor_by_name_and_everyone_hears_every_line() -> None:
    relay, sessions, log = three_parties()
    result = await relay.run()
    assert result.reason == "goodbye"  # every party's last line took leave
    assert [t.role for t in result.turns] == [
        "dispatcher",
        "driver",
        "receiver",
        "driver",
        "dispatcher",
        "receiver",
        "driver",
    ]
    assert [kind for kind, _ in log] == ["start", "stop"] * 7, "one speaker at a time"
    names = {"dispatcher": "Tim", "driver": "Chris", "receiver": "Rosa"}
    said = [(names[t.role], t.text) for t in result.turns]
    for name, session in sessions.items():
        turns = [i for i, (who, _) in enumerate(said) if who == name]
        for call, turn in enumerate(turns):
            # before each of its lines a party knows every line the others said until then:
            # heard as context, or answered as a prompt (the last one), each naming its speaker
            before = [f"{who}: {text}" for who, text in said[:turn] if who != name]
            prompts = [c["user_input"] for c in session.calls[: call + 1] if c["user_input"]]
            assert sorted(session.heard_by_call[call] + prompts) == sorted(before), name
            assert not before or prompts[-1] == before[-1], name
    assert sessions["Tim"].calls[0]["instructions"] == "open the call"


async def test_a_line_a_party_could_not_hear_does_not_stop_the_call() -> None:
    async def deaf(_line: str) -> None:
        raise RuntimeError("context update rejected")

    relay, _, _ = three_parties(rosa_hear=deaf)
    result = await relay.run()
    assert result.reason == "goodbye" and len(result.turns) == 7


def test_more_than_two_parties_need_listeners() -> None:
    log: list[tuple[str, Any]] = []
    parties = [RelayParty(role, FakeSession([], log, role)) for role in ("a", "b", "c")]
    with pytest.raises(ValueError, match="listener"):
        TurnRelay(*parties, max_turns=4, opening_instructions="open")


async def test_a_listener_puts_the_line_into_a_real_sessions_context() -> None:
    # a real offline AgentSession (no room): heard lines become user messages of its agent, and
    # the scripted voice still says its own next line
    scenario = load_scenario(PROJECT / "scenarios" / "kdc-3107.json")
    session = build_session("offline", scenario, "receiver")
    await session.start(agent_for(scenario, "receiver"), record=False)
    try:
        hear = chat_context_listener(session)
        await hear("Tim: Hi Chris, hi Rosa.")
        await hear("Chris: Just cleared Vail Pass.")
        messages = [(m.role, m.text_content) for m in session.current_agent.chat_ctx.messages()]
        assert messages[-2:] == [
            ("user", "Tim: Hi Chris, hi Rosa."),
            ("user", "Chris: Just cleared Vail Pass."),
        ]
        await session.generate_reply(user_input="Chris: Rosa, can the dock take me later?")
        last = session.current_agent.chat_ctx.messages()[-1]
        assert (last.role, last.text_content) == ("assistant", scenario.lines_for("receiver")[0])
    finally:
        await session.aclose()
