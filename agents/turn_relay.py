"""Turn-taking between the two agent sessions (docs/architecture.md, "Facts that shape the worker").

Two voice agents hearing each other interrupt each other endlessly, so neither listens: audio
input is off and this relay passes the floor. The first party opens; whenever a party commits an
assistant message (``conversation_item_added``) and has finished speaking, the other party gets
``generate_reply(user_input=<that text>)``. Only one party is ever asked to speak at a time, so
the speaking intervals cannot overlap. The call ends after ``max_turns`` lines, after both
parties said goodbye, when a party has nothing more to say, or when a reply fails.

``TurnBook`` is the pure bookkeeping; ``TurnRelay`` drives two sessions through a small protocol
that ``AgentSession`` satisfies.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agents.scenario import Role

GOODBYE = re.compile(r"\b(good\s*-?\s*bye|bye)\b", re.IGNORECASE)

StopReason = Literal["max_turns", "goodbye", "no_reply", "error", "closed"]


def is_goodbye(text: str) -> bool:
    """Whether a line takes leave of the call."""
    return GOODBYE.search(text) is not None


class RelayError(RuntimeError):
    """A turn was recorded out of order."""


@dataclass(frozen=True)
class Turn:
    """One committed line of the call."""

    index: int
    role: Role
    text: str
    committed_at: float
    started_speaking_at: float | None = None
    stopped_speaking_at: float | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The assistant message's MetricsReport (llm_node_ttft, tts_node_ttfb, ...); the relay adds
    ``e2e_latency`` (asked to first audio) when the framework did not time the reply."""


@dataclass
class TurnBook:
    """Who speaks next and when to stop; no I/O."""

    first: Role
    max_turns: int
    turns: list[Turn] = field(default_factory=list)

    @property
    def expected_role(self) -> Role:
        """The role whose line is due: the opener on even turns, the other on odd ones."""
        second: Role = "driver" if self.first == "dispatcher" else "dispatcher"
        return self.first if len(self.turns) % 2 == 0 else second

    def record(
        self,
        role: Role,
        text: str,
        *,
        started_speaking_at: float | None = None,
        stopped_speaking_at: float | None = None,
        metrics: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> Turn:
        """Add a committed line; raises RelayError if it is not ``role``'s turn."""
        if role != self.expected_role:
            raise RelayError(f"{role} spoke out of turn (expected {self.expected_role})")
        turn = Turn(
            index=len(self.turns),
            role=role,
            text=text,
            committed_at=time.time() if now is None else now,
            started_speaking_at=started_speaking_at,
            stopped_speaking_at=stopped_speaking_at,
            metrics=dict(metrics or {}),
        )
        self.turns.append(turn)
        return turn

    def stop_reason(self) -> StopReason | None:
        """Why the call is over after the recorded turns, or None to keep going."""
        if len(self.turns) >= self.max_turns:
            return "max_turns"
        if (
            len(self.turns) >= 2
            and is_goodbye(self.turns[-1].text)
            and is_goodbye(self.turns[-2].text)
        ):
            return "goodbye"
        return None

    def gaps(self) -> list[float]:
        """Silence between consecutive lines (next start minus previous stop), when known."""
        result: list[float] = []
        for previous, current in zip(self.turns, self.turns[1:], strict=False):
            if previous.stopped_speaking_at is not None and current.started_speaking_at is not None:
                result.append(current.started_speaking_at - previous.stopped_speaking_at)
        return result


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


@dataclass(frozen=True)
class RelayParty:
    """One side of the call."""

    role: Role
    session: RelaySession


@dataclass(frozen=True)
class RelayResult:
    """How the call ended and what was said."""

    reason: StopReason
    turns: tuple[Turn, ...]
    detail: str = ""


TurnCallback = Callable[[Turn], None]


class TurnRelay:
    """Alternates ``first`` and ``second`` until the TurnBook says stop.

    ``run()`` returns a RelayResult and never raises for a failed reply (reason ``error``);
    cancel it to stop early. Handlers are registered in ``run()`` and always removed.
    """

    def __init__(
        self,
        first: RelayParty,
        second: RelayParty,
        *,
        max_turns: int,
        opening_instructions: str,
        on_turn: TurnCallback | None = None,
    ) -> None:
        if first.role == second.role:
            raise ValueError("the two relay parties need different roles")
        self._parties = {first.role: first, second.role: second}
        self._first = first
        self._opening = opening_instructions
        self._on_turn = on_turn
        self.book = TurnBook(first=first.role, max_turns=max_turns)
        self._committed: dict[Role, list[tuple[str, dict[str, Any]]]] = {
            first.role: [],
            second.role: [],
        }
        self._idle: dict[Role, asyncio.Event] = {
            first.role: asyncio.Event(),
            second.role: asyncio.Event(),
        }
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
                party, prompt = self._parties[self.book.expected_role], text
        finally:
            self._unsubscribe()


class _ReplyFailed(Exception):
    pass


class _SessionClosed(Exception):
    pass


async def _awaitable(handle: Any) -> None:
    await handle
