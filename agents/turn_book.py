"""The bookkeeping of a call's turns: what was said, whose line is due, when the call is over.

No I/O: :class:`agents.turn_relay.TurnRelay` records each committed line here and asks who
speaks next (:class:`agents.floor.Floor` decides) and whether to stop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.floor import Floor
from agents.scenario_agents import Role

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
    """The assistant message's MetricsReport (llm_node_ttft, tts_node_ttfb, ...)."""


@dataclass
class TurnBook:
    """Who speaks next and when to stop; no I/O."""

    first: Role
    max_turns: int
    turns: list[Turn] = field(default_factory=list)
    floor: Floor | None = None
    """The parties and the floor's rule; None: two parties, ``first`` and the other of the
    dispatcher and the driver."""

    @property
    def parties(self) -> Floor:
        if self.floor is not None:
            return self.floor
        return Floor((self.first, "driver" if self.first == "dispatcher" else "dispatcher"))

    @property
    def expected_role(self) -> Role:
        """The role whose line is due (see :class:`agents.floor.Floor`)."""
        return self.parties.next_role([(turn.role, turn.text) for turn in self.turns])

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
        latest = {turn.role: turn.text for turn in self.turns}
        if len(latest) == len(self.parties.roles) and all(map(is_goodbye, latest.values())):
            # every party has spoken and its last line took leave (with two parties: the last
            # two lines are goodbyes)
            return "goodbye"
        return None

    def gaps(self) -> list[float]:
        """Silence between consecutive lines (next start minus previous stop), when known."""
        result: list[float] = []
        for previous, current in zip(self.turns, self.turns[1:], strict=False):
            if previous.stopped_speaking_at is not None and current.started_speaking_at is not None:
                result.append(current.started_speaking_at - previous.stopped_speaking_at)
        return result
