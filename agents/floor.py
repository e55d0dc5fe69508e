"""Who speaks next in a call of two to six agents: the floor moderator's rule, without I/O.

One agent holds the floor at a time and the first one opens. While an offline call has script
lines left, the script's order decides. After that, and always with the realtime voice, the agent
addressed by name in the last line speaks next, otherwise the next one in the list; a scenario's
``"turn_order": "round_robin"`` always takes the next one. The speaker never follows itself, so
with two agents every rule is the same strict alternation the two-party relay always had.

Addressed means named in the last sentence of the line that names another agent, the first name
in that sentence: "Thanks Chris. Rosa, can you take it at noon?" passes the floor to Rosa.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.scenario_agents import Role, TurnOrder

if TYPE_CHECKING:
    from agents.scenario import Scenario

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Floor:
    """The parties of a call in list order, and the rule that passes the floor between them."""

    roles: tuple[Role, ...]
    names: tuple[str, ...] = ()
    """Each party's name, parallel to ``roles``; empty: nobody can be addressed by name."""
    order: TurnOrder = "addressed"
    script: tuple[Role, ...] = ()
    """The offline script's speakers, line by line: followed while it lasts."""

    def __post_init__(self) -> None:
        if len(self.roles) < 2 or len(set(self.roles)) != len(self.roles):
            raise ValueError(f"a floor needs two or more distinct roles, got {self.roles}")
        if self.names and len(self.names) != len(self.roles):
            raise ValueError("one name per role")
        if stray := set(self.script) - set(self.roles):
            raise ValueError(f"script speakers {sorted(stray)} are not parties of the call")

    def next_role(self, said: Sequence[tuple[Role, str]]) -> Role:
        """Who speaks after the ``(role, text)`` lines said so far."""
        if not said:
            return self.roles[0]
        if len(said) < len(self.script):
            return self.script[len(said)]
        speaker, text = said[-1]
        if self.order == "addressed" and (named := self.addressed(text, speaker)) is not None:
            return named
        return self.after(speaker)

    def after(self, role: Role) -> Role:
        """The party after ``role`` in list order (the first after the last)."""
        return self.roles[(self.roles.index(role) + 1) % len(self.roles)]

    def addressed(self, text: str, speaker: Role) -> Role | None:
        """The party other than ``speaker`` that ``text`` addresses by name, if any."""
        others = [
            (role, name)
            for role, name in zip(self.roles, self.names, strict=False)
            if role != speaker and name.strip()
        ]
        for sentence in reversed(_SENTENCE_END.split(text)):
            hits = [
                (match.start(), role)
                for role, name in others
                if (match := _name_pattern(name).search(sentence)) is not None
            ]
            if hits:
                return min(hits)[1]
        return None


def scenario_floor(scenario: Scenario, *, offline: bool) -> Floor:
    """The floor of ``scenario``'s call: its agents and names in list order, its turn order,
    and for the offline voice the script's order (a realtime model follows no script)."""
    return Floor(
        scenario.roles,
        tuple(persona.name for persona in scenario.agents),
        scenario.turn_order,
        tuple(line.speaker for line in scenario.speaking_order()) if offline else (),
    )


def _name_pattern(name: str) -> re.Pattern[str]:
    # a whole word: Chris is not addressed by "Christmas"
    return re.compile(rf"(?<!\w){re.escape(name.strip())}(?!\w)", re.IGNORECASE)
