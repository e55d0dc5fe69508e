"""Which agents the observed room expects and how a participant is given a role.

The roles come from the room's scenario (its metadata, see :func:`agents_from_metadata`): two to
six agents, each with a role, a name and an identity. A room without one expects the guide's
pair, Tim the dispatcher and Chris the driver.

A participant's role, in order: its ``dispatch.role`` attribute when that names an expected
role; non-agents are ``standard``; an agent whose identity is a scenario agent's identity takes
that agent's role; otherwise the identity, then the name, is tried against each role's filters:
the guide's keywords for the dispatcher (``dispatcher``/``tim``) and the driver
(``driver``/``chris``), case-insensitive, plus any ``--match ROLE=REGEX`` patterns. An agent
matching none is ``unmatched`` and keeps a human-readable reason, which is exactly what the
guide's "agent_abc123" symptom needs on screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from agents.constants import ROLE_ATTRIBUTE
from agents.scenario import ScenarioError, scenario_from_metadata

UNMATCHED: Final = "unmatched"
STANDARD: Final = "standard"
"""Any non-agent participant (a human, a test client) without a role attribute."""
MAX_PANES: Final = 6
"""Agent panes shown at most (a scenario has two to six agents)."""

DEFAULT_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    "dispatcher": ("dispatcher", "tim"),
    "driver": ("driver", "chris"),
}
"""The worker guide's troubleshooting keywords, for rooms and scenarios alike."""


@dataclass(frozen=True, slots=True)
class ExpectedAgent:
    """One agent the room's scenario brings: its role, name and identity."""

    role: str
    name: str
    identity: str

    @property
    def role_title(self) -> str:
        """``Dispatcher`` for ``dispatcher``: how a pane names the role."""
        return role_title(self.role)


DEFAULT_AGENTS: Final[tuple[ExpectedAgent, ...]] = (
    ExpectedAgent("dispatcher", "Tim", "dispatcher-tim"),
    ExpectedAgent("driver", "Chris", "driver-chris"),
)


@dataclass(frozen=True, slots=True)
class RoleMatch:
    """A ``--match ROLE=REGEX`` pattern: identities or names it finds take ``role``."""

    role: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Classification:
    """A participant's role and why it was given."""

    role: str
    reason: str


def role_title(role: str) -> str:
    """A role as a title: ``receiver`` -> ``Receiver``."""
    return role[:1].upper() + role[1:]


def parse_match(text: str) -> RoleMatch:
    """``ROLE=REGEX`` as given to ``--match``; a ValueError names the problem and the fix."""
    role, sep, pattern = text.partition("=")
    role = role.strip().lower()
    if not sep or not role or not pattern:
        raise ValueError(f"--match {text!r}: expected ROLE=REGEX, e.g. --match receiver=rosa")
    if role in (UNMATCHED, STANDARD):
        raise ValueError(f"--match {text!r}: {role!r} is not an agent role; name the agent's role")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"--match {text!r}: bad regular expression ({error}); fix REGEX") from None
    return RoleMatch(role, compiled)


def agents_from_metadata(metadata: str) -> tuple[ExpectedAgent, ...] | None:
    """The agents of the scenario stored in a room's metadata, None if it holds no scenario."""
    if not metadata:
        return None
    try:
        scenario = scenario_from_metadata(metadata)
    except ScenarioError:
        return None  # a room made by something else: the default pair and the filters
    return tuple(ExpectedAgent(p.role, p.name, p.identity) for p in scenario.agents)


def _keyword_hit(value: str, keywords: Iterable[str]) -> str | None:
    lowered = value.lower()
    return next((keyword for keyword in keywords if keyword in lowered), None)


def _either(roles: list[str]) -> str:
    if len(roles) == 2:
        return f"neither {roles[0]} nor {roles[1]}"
    return "none of " + ", ".join(roles)


class RoleRules:
    """The expected agents and the filters that give participants their roles."""

    def __init__(
        self,
        agents: Iterable[ExpectedAgent] = DEFAULT_AGENTS,
        matches: Iterable[RoleMatch] = (),
    ) -> None:
        self.agents: tuple[ExpectedAgent, ...] = tuple(agents)[:MAX_PANES]
        self.matches: tuple[RoleMatch, ...] = tuple(matches)
        expected = [agent.role for agent in self.agents]
        extra = [m.role for m in self.matches if m.role not in expected]
        self.roles: tuple[str, ...] = tuple(dict.fromkeys([*expected, *extra]))
        """Every role a participant can take: the expected ones first, then --match's."""
        self._by_identity = {agent.identity: agent.role for agent in self.agents}

    @property
    def expected_roles(self) -> tuple[str, ...]:
        """The roles of the scenario's agents, in speaking order."""
        return tuple(agent.role for agent in self.agents)

    def agent(self, role: str) -> ExpectedAgent | None:
        return next((agent for agent in self.agents if agent.role == role), None)

    def label(self, role: str) -> str:
        """The name the scenario gives the agent with ``role`` (Tim), else the role's title."""
        agent = self.agent(role)
        return agent.name if agent is not None else role_title(role)

    def filters(self, role: str) -> list[str]:
        """What gives ``role``, as shown to a person (keywords, patterns, else the identity)."""
        parts = list(DEFAULT_KEYWORDS.get(role, ()))
        parts += [m.pattern.pattern for m in self.matches if m.role == role]
        agent = self.agent(role)
        if not parts and agent is not None:
            parts.append(agent.identity)
        return parts

    def rule_text(self, role: str) -> str:
        """``dispatch.role=driver, or identity/name containing 'driver' or 'chris'``."""
        parts = [f"dispatch.role={role}"]
        agent = self.agent(role)
        if agent is not None and role not in DEFAULT_KEYWORDS:
            parts.append(f"identity {agent.identity!r}")
        keywords = DEFAULT_KEYWORDS.get(role, ())
        if keywords:
            parts.append("identity/name containing " + " or ".join(f"{k!r}" for k in keywords))
        patterns = [m.pattern.pattern for m in self.matches if m.role == role]
        if patterns:
            parts.append("identity/name matching " + " or ".join(f"/{p}/" for p in patterns))
        return ", or ".join(parts)

    def classify(
        self, identity: str, name: str, kind: str, attributes: Mapping[str, str]
    ) -> Classification:
        """Decide a participant's role; see the module docstring for the rule.

        Non-agent participants are only given an agent role when they declare it with the
        attribute: a human called "Tim" joining to listen must not take the dispatcher's pane.
        """
        declared = attributes.get(ROLE_ATTRIBUTE, "").strip().lower()
        if declared and declared in self.roles:
            return Classification(declared, f"attribute {ROLE_ATTRIBUTE}={declared!r}")
        if kind != "agent":
            return Classification(STANDARD, f"{kind} participant (not an agent)")
        prefix = (
            f"attribute {ROLE_ATTRIBUTE}={declared!r} is {_either(list(self.roles))}; "
            if declared
            else ""
        )
        by_identity = self._by_identity.get(identity)
        if by_identity is not None:
            return Classification(
                by_identity, f"{prefix}identity {identity!r} is the scenario's {by_identity}"
            )
        # Identity before name: the identity is what the worker controls and logs.
        for field_name, value in (("identity", identity), ("name", name)):
            if not value:
                continue
            for role in self.roles:
                hit = _keyword_hit(value, DEFAULT_KEYWORDS.get(role, ()))
                if hit is not None:
                    return Classification(role, f"{prefix}{field_name} {value!r} contains {hit!r}")
                for match in self.matches:
                    if match.role == role and match.pattern.search(value):
                        return Classification(
                            role,
                            f"{prefix}{field_name} {value!r} matches /{match.pattern.pattern}/",
                        )
        subject = f"identity {identity!r}" + (f" and name {name!r}" if name else "")
        verb = "match" if name else "matches"
        shown = ", ".join("|".join(self.filters(role)) for role in self.roles)
        which = "neither filter" if len(self.roles) == 2 else "no role filter"
        return Classification(UNMATCHED, f"{prefix}{subject} {verb} {which} ({shown})")


DEFAULT_RULES: Final = RoleRules()
"""The guide's pair and keywords, for participants seen outside an observed room."""
