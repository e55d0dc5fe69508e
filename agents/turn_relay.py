"""Turn-taking between the agent sessions of a call (docs/architecture.md, "Facts that shape the
worker").

Voice agents hearing each other interrupt each other endlessly, so none listens: audio input is
off and this relay moderates the floor. The first party opens; whenever a party commits an
assistant message (``conversation_item_added``) and has finished speaking, the next speaker
(:class:`agents.floor.Floor` decides who) gets ``generate_reply(user_input=<that text>)``, and
every other party hears the line as context (:func:`chat_context_listener`) before its own turn.
Only one party is ever asked to speak at a time, so the speaking intervals cannot overlap. With
more than two parties a heard line names its speaker ("Chris: ..."); with two it is the bare
text, as it always was. The call ends after ``max_turns`` lines, once every party's last line
took leave, when a party has nothing more to say, or when a reply fails.

``TurnBook`` (:mod:`agents.turn_book`, re-exported here) is the pure bookkeeping; ``TurnRelay``
drives the sessions through a small protocol that ``AgentSession`` satisfies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from agents.floor import Floor
from agents.scenario_agents import Role, TurnOrder
from agents.turn_book import RelayError, StopReason, Turn, TurnBook, is_goodbye

__all__ = [
    "HEARING_TIMEOUT_S",
    "Listener",
    "RelayError",
    "RelayParty",
    "RelayResult",
    "RelaySession",
    "StopReason",
    "Turn",
    "TurnBook",
    "TurnRelay",
    "chat_context_listener",
    "is_goodbye",
]

if TYPE_CHECKING:
    from livekit.agents import AgentSession

logger = logging.getLogger("multi_agent_worker")

HEARING_TIMEOUT_S = 10.0
"""The longest a speaker waits for earlier lines to reach its context (a realtime context update
gives up after 5 s)."""


class ReplyHandle(Protocol):
    """What ``generate_reply`` returns: awaiting it waits for the playout to finish."""

    def __await__(self) -> Any: ...

    def exception(self) -> BaseException | None: ...


class RelaySession(Protocol):
    """The part of ``AgentSession`` the relay uses."""

    @property
    def agent_state(self) -> str: ...

    def on(self, event: Any, callback: Callable[..., Any] | None = None) -> Callable[..., Any]: ...

    def off(self, event: Any, callback: Callable[..., Any]) -> None: ...

    def generate_reply(self, *, user_input: Any = ..., instructions: Any = ...) -> Any: ...


Listener = Callable[[str], Awaitable[None]]
"""Makes a party hear a line it does not answer: adds it to the party's context."""


@dataclass(frozen=True)
class RelayParty:
    """One agent of the call."""

    role: Role
    session: RelaySession
    name: str = ""
    """How the others address it (and how its lines are attributed when more than two talk)."""
    hear: Listener | None = None
    """Needed when more than two parties talk: lines this party hears without answering."""


@dataclass(frozen=True)
class RelayResult:
    """How the call ended and what was said."""

    reason: StopReason
    turns: tuple[Turn, ...]
    detail: str = ""


TurnCallback = Callable[[Turn], None]


def chat_context_listener(session: AgentSession[Any]) -> Listener:
    """A listener adding each heard line to the session's agent as a user message.

    ``Agent.update_chat_ctx`` is the SDK's way in: a pipeline agent's LLM reads the context on its
    next reply, a realtime session receives the new item (``conversation.item.create``) at once.
    User messages leave the scripted voice's place in its script alone (it counts its own
    assistant messages).
    """

    async def hear(line: str) -> None:
        agent = session.current_agent
        chat_ctx = agent.chat_ctx.copy()
        chat_ctx.add_message(role="user", content=line)
        await agent.update_chat_ctx(chat_ctx)

    return hear


class TurnRelay:
    """Moderates the floor between two or more parties until the TurnBook says stop.

    ``first`` opens. ``turn_order`` and ``script_order`` (the offline script's speakers) choose
    the next speaker, see :class:`agents.floor.Floor`. ``run()`` returns a RelayResult and never
    raises for a failed reply (reason ``error``); cancel it to stop early. Handlers are
    registered in ``run()`` and always removed.
    """

    def __init__(
        self,
        first: RelayParty,
        second: RelayParty,
        *others: RelayParty,
        max_turns: int,
        opening_instructions: str,
        on_turn: TurnCallback | None = None,
        turn_order: TurnOrder = "addressed",
        script_order: Sequence[Role] = (),
    ) -> None:
        parties = (first, second, *others)
        if len({party.role for party in parties}) != len(parties):
            raise ValueError("the relay parties need different roles")
        if others and any(party.hear is None for party in parties):
            raise ValueError("with more than two parties every party needs a listener (hear)")
        self._parties = {party.role: party for party in parties}
        self._first = first
        self._opening = opening_instructions
        self._on_turn = on_turn
        floor = Floor(
            tuple(self._parties),
            tuple(party.name for party in parties),
            turn_order,
            tuple(script_order),
        )
        self.book = TurnBook(first=first.role, max_turns=max_turns, floor=floor)
        self._committed: dict[Role, list[tuple[str, dict[str, Any]]]] = {
            role: [] for role in self._parties
        }
        self._idle: dict[Role, asyncio.Event] = {role: asyncio.Event() for role in self._parties}
        self._hearing: dict[Role, asyncio.Task[None]] = {}
        self._closed = asyncio.Event()
        self._handlers: list[tuple[RelaySession, str, Callable[..., Any]]] = []

    def _subscribe(self) -> None:
        for role, party in self._parties.items():
            idle = self._idle[role]
            if party.session.agent_state != "speaking":
                idle.set()

            def on_item(event: Any, role: Role = role) -> None:
                item = getattr(event, "item", None)
                if getattr(item, "type", None) != "message" or getattr(item, "role", "") != (
                    "assistant"
                ):
                    return
                text = item.text_content or ""  # type: ignore[union-attr]
                if text.strip():
                    metrics = dict(getattr(item, "metrics", {}) or {})
                    self._committed[role].append((text, metrics))

            def on_state(event: Any, idle: asyncio.Event = idle) -> None:
                if getattr(event, "new_state", None) == "speaking":
                    idle.clear()
                else:
                    idle.set()

            def on_close(_event: Any) -> None:
                self._closed.set()

            for name, callback in (
                ("conversation_item_added", on_item),
                ("agent_state_changed", on_state),
                ("close", on_close),
            ):
                party.session.on(name, callback)
                self._handlers.append((party.session, name, callback))

    def _unsubscribe(self) -> None:
        for session, name, callback in self._handlers:
            session.off(name, callback)
        self._handlers.clear()

    async def _speak(self, party: RelayParty, prompt: str | None) -> str | None:
        """Ask ``party`` for one line and wait until it has finished saying it."""
        self._committed[party.role].clear()
        if (hearing := self._hearing.pop(party.role, None)) is not None:
            # what it heard while others spoke is in its context before it answers
            await self._until_closed(self._heard(party, hearing))
        asked_at = time.time()  # the framework's speaking times are wall-clock too
        if prompt is None:
            handle = party.session.generate_reply(instructions=self._opening)
        else:
            handle = party.session.generate_reply(user_input=prompt)
        await self._until_closed(_awaitable(handle))
        if (error := handle.exception()) is not None:
            raise _ReplyFailed(f"{party.role} reply failed: {error}") from error
        # the assistant message is committed before the playout is marked done, and the
        # state leaves "speaking" at the same moment; waiting on both keeps it exact anyway
        await self._until_closed(self._idle[party.role].wait())
        committed = self._committed[party.role]
        if not committed:
            return None
        text, metrics = committed[-1]
        started = metrics.get("started_speaking_at")
        if metrics.get("e2e_latency") is None and isinstance(started, int | float):
            # The framework times a reply only from a user's speech; a relayed line is text, so
            # the relay times it: asked (right after the other agent stopped) to first audio.
            metrics = {**metrics, "e2e_latency": max(0.0, started - asked_at)}
        turn = self.book.record(
            party.role,
            text,
            started_speaking_at=metrics.get("started_speaking_at"),
            stopped_speaking_at=metrics.get("stopped_speaking_at"),
            metrics=metrics,
        )
        if self._on_turn is not None:
            self._on_turn(turn)
        return text

    async def _until_closed(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if not task.done():
            task.cancel()
            raise _SessionClosed
        task.result()

    async def run(self) -> RelayResult:
        """Drive the call to its end."""
        self._subscribe()
        try:
            party, prompt = self._first, None
            while True:
                try:
                    text = await self._speak(party, prompt)
                except _ReplyFailed as exc:
                    return RelayResult("error", tuple(self.book.turns), str(exc))
                except _SessionClosed:
                    return RelayResult("closed", tuple(self.book.turns), "a session closed")
                except RuntimeError as exc:  # generate_reply on a closing session
                    return RelayResult("closed", tuple(self.book.turns), str(exc))
                if text is None:
                    return RelayResult(
                        "no_reply", tuple(self.book.turns), f"{party.role} said nothing"
                    )
                if (reason := self.book.stop_reason()) is not None:
                    return RelayResult(reason, tuple(self.book.turns))
                following = self._parties[self.book.expected_role]
                line = text if len(self._parties) == 2 else f"{party.name or party.role}: {text}"
                for listener in self._parties.values():
                    if listener is not party and listener is not following:
                        self._tell(listener, line)
                party, prompt = following, line
        finally:
            self._unsubscribe()
            for task in self._hearing.values():
                task.cancel()
            await asyncio.gather(*self._hearing.values(), return_exceptions=True)
            self._hearing.clear()

    async def _heard(self, party: RelayParty, hearing: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait_for(hearing, HEARING_TIMEOUT_S)
        except TimeoutError:
            logger.warning(
                "%s answers without all it heard (its context was not updated in %.0f s)",
                party.role,
                HEARING_TIMEOUT_S,
            )

    def _tell(self, listener: RelayParty, line: str) -> None:
        """Let ``listener`` hear ``line`` in the background, after what it heard before."""
        earlier = self._hearing.get(listener.role)
        self._hearing[listener.role] = asyncio.create_task(
            self._hear(listener, line, earlier), name=f"hear:{listener.role}"
        )

    async def _hear(
        self, listener: RelayParty, line: str, earlier: asyncio.Task[None] | None
    ) -> None:
        if earlier is not None:
            await asyncio.gather(earlier, return_exceptions=True)
        assert listener.hear is not None  # checked in __init__
        try:
            await listener.hear(line)
        except Exception as exc:
            # a missed line costs context, not the call
            logger.warning("%s did not hear a line: %s", listener.role, exc)


class _ReplyFailed(Exception):
    pass


class _SessionClosed(Exception):
    pass


async def _awaitable(handle: Any) -> None:
    await handle
