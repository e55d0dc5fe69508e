"""The agents of a scenario: who takes part in the call, in which order, and their scripted lines.

Two forms describe them. The pair form has a ``dispatcher`` and a ``driver`` object (both
optional, with Tim's and Chris's defaults) and stays exactly what it always was. The list form
names two to six agents, each with a lowercase ``role`` of the scenario's choosing::

    "agents": [
      {"role": "dispatcher", "name": "Tim", "identity": "dispatcher-tim", "voice": "alloy"},
      {"role": "driver", "name": "Chris", "identity": "driver-chris", "voice": "echo"},
      {"role": "receiver", "name": "Rosa", "identity": "receiver-rosa", "voice": "shimmer"}
    ]

The first agent opens the call. Roles, identities and names are unique (the floor passes to the
agent addressed by name). Both forms give the same :class:`Persona` tuple; a list of a
``dispatcher`` then a ``driver`` without ``instructions`` is the pair form, written back as such.
Problems are reported through :mod:`agents.scenario`'s reader: one line naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from agents.scenario import Scenario, _Reader

Role: TypeAlias = str
"""A role chosen by the scenario (``dispatcher``, ``driver``, ``receiver``, ...)."""
ROLES: tuple[Role, Role] = ("dispatcher", "driver")
"""The roles of the pair form, in speaking order."""
TurnOrder: TypeAlias = Literal["addressed", "round_robin"]
TURN_ORDERS: tuple[TurnOrder, TurnOrder] = ("addressed", "round_robin")
"""``addressed``: the agent named in the last line speaks next, otherwise the next in the list;
``round_robin``: always the next in the list. Offline calls follow the script's order first."""

MIN_AGENTS = 2
MAX_AGENTS = 6
MAX_SCRIPT_LINES = 64
DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-12-17"
IDENTITY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
RESERVED_ROLES = frozenset({"unmatched", "standard"})
"""Words the dashboard uses for participants that are not a scenario's agents."""
REALTIME_VOICES: tuple[str, ...] = ("alloy", "echo", "shimmer", "coral", "sage", "verse")
"""Default realtime voices of the list form, by position (the pair form's are the first two)."""

_PERSONA_FIELDS = frozenset({"name", "identity", "voice", "temperature", "model"})
LISTED_FIELDS = _PERSONA_FIELDS | {"role", "instructions"}
"""The keys of one agent of the list form."""


@dataclass(frozen=True)
class Persona:
    """One agent of the call: who it is in the room and how it sounds."""

    role: Role
    name: str
    identity: str
    voice: str
    temperature: float
    model: str = DEFAULT_MODEL
    instructions: str = ""
    """What this agent does in the call, in its own words (list form only; may be empty)."""


@dataclass(frozen=True)
class ScriptLine:
    """One scripted line for the offline voice."""

    speaker: Role
    text: str


_DEFAULT_PERSONAS: dict[Role, dict[str, Any]] = {
    "dispatcher": {
        "name": "Tim",
        "identity": "dispatcher-tim",
        "voice": "alloy",
        "temperature": 0.8,
    },
    "driver": {"name": "Chris", "identity": "driver-chris", "voice": "echo", "temperature": 0.7},
}


def is_pair(agents: Sequence[Persona]) -> bool:
    """Whether ``agents`` is the pair form: a dispatcher, then a driver, no own instructions."""
    return tuple(p.role for p in agents) == ROLES and not any(p.instructions for p in agents)


def parse_agents(reader: _Reader, top: Mapping[str, Any], model: str) -> tuple[Persona, ...]:
    """The personas of either form, in speaking order, or a ScenarioError."""
    if "agents" not in top:
        return _pair(reader, top, model)
    for role in ROLES:
        if role in top:
            raise reader.fail(role, "no such field when 'agents' lists the agents (move it there)")
    raw = top["agents"]
    if not isinstance(raw, list):
        raise reader.fail("agents", f"a list of {MIN_AGENTS} to {MAX_AGENTS} agents", raw)
    if not MIN_AGENTS <= len(raw) <= MAX_AGENTS:
        got = f"{len(raw)} agent" + ("" if len(raw) == 1 else "s")
        raise reader.fail("agents", f"between {MIN_AGENTS} and {MAX_AGENTS} agents", got)
    personas: list[Persona] = []
    for index, item in enumerate(raw):
        persona = _listed(reader, item, f"agents[{index}]", index, model)
        for key, what in (("role", "a role"), ("identity", "an identity"), ("name", "a name")):
            value = getattr(persona, key)
            if any(getattr(p, key).casefold() == value.casefold() for p in personas):
                why = " (agents are addressed by name)" if key == "name" else ""
                raise reader.fail(
                    f"agents[{index}].{key}", f"{what} no other agent has{why}", value
                )
        personas.append(persona)
    return tuple(personas)


def _pair(reader: _Reader, top: Mapping[str, Any], model: str) -> tuple[Persona, ...]:
    dispatcher, driver = (_paired(reader, top, role, model) for role in ROLES)
    if dispatcher.identity == driver.identity:
        raise reader.fail(
            "driver.identity", "an identity different from the dispatcher's", driver.identity
        )
    return dispatcher, driver


def _paired(reader: _Reader, data: Mapping[str, Any], role: Role, model: str) -> Persona:
    section = reader.mapping(data.get(role, {}), role)
    unknown = set(section) - _PERSONA_FIELDS
    if unknown:
        raise reader.fail(f"{role}.{sorted(unknown)[0]}", "no such field (typo?)")
    return _persona(reader, section, role, role, _DEFAULT_PERSONAS[role], model)


def _listed(reader: _Reader, item: object, path: str, index: int, model: str) -> Persona:
    section = reader.mapping(item, path)
    unknown = set(section) - LISTED_FIELDS
    if unknown:
        raise reader.fail(f"{path}.{sorted(unknown)[0]}", "no such field (typo?)")
    role = reader.text(section, "role", path, max_chars=32)
    if not ROLE_PATTERN.match(role):
        raise reader.fail(
            f"{path}.role", "a lowercase name such as 'receiver' (letters, digits, '-', '_')", role
        )
    if role in RESERVED_ROLES:
        words = " or ".join(f"'{word}'" for word in sorted(RESERVED_ROLES))
        raise reader.fail(f"{path}.role", f"a role other than {words} (the dashboard's)", role)
    defaults = _DEFAULT_PERSONAS.get(
        role, {"voice": REALTIME_VOICES[index % len(REALTIME_VOICES)], "temperature": 0.8}
    )
    persona = _persona(reader, section, path, role, defaults, model)
    instructions = reader.text(section, "instructions", path, required=False)
    return Persona(**{**asdict(persona), "instructions": instructions})


def _persona(
    reader: _Reader,
    section: Mapping[str, Any],
    path: str,
    role: Role,
    defaults: Mapping[str, Any],
    model: str,
) -> Persona:
    """Name, identity, voice, temperature and model of one agent; ``defaults`` fill the gaps
    (a key missing from ``defaults`` is required)."""

    def text(key: str, max_chars: int) -> str:
        return reader.text(
            section,
            key,
            path,
            required=key not in defaults,
            default=defaults.get(key, ""),
            max_chars=max_chars,
        )

    name = text("name", 64)
    identity = text("identity", 63)
    if not IDENTITY_PATTERN.match(identity):
        raise reader.fail(f"{path}.identity", "lowercase letters, digits, '-' or '_'", identity)
    voice = text("voice", 32)
    temperature = section.get("temperature", defaults["temperature"])
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise reader.fail(f"{path}.temperature", "a number between 0.6 and 1.2", temperature)
    if not 0.6 <= float(temperature) <= 1.2:
        # The OpenAI realtime API accepts only this range.
        raise reader.fail(f"{path}.temperature", "a number between 0.6 and 1.2", temperature)
    persona_model = reader.text(
        section, "model", path, required=False, default=model, max_chars=100
    )
    return Persona(role, name, identity, voice, float(temperature), persona_model)


def parse_script(
    reader: _Reader, top: Mapping[str, Any], agents: Sequence[Persona]
) -> tuple[ScriptLine, ...]:
    """The offline lines: one speaker per line, the first agent first, never twice in a row."""
    raw = top.get("script")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise reader.fail("script", "a list of {speaker, text}", raw)
    if not raw or len(raw) > MAX_SCRIPT_LINES:
        raise reader.fail("script", f"between 1 and {MAX_SCRIPT_LINES} lines", f"{len(raw)} lines")
    roles = [p.role for p in agents]
    pair = "agents" not in top
    lines: list[ScriptLine] = []
    for index, item in enumerate(raw):
        path = f"script[{index}]"
        entry = reader.mapping(item, path)
        speaker = entry.get("speaker")
        if pair:
            # the pair form's own words, unchanged
            if speaker not in ROLES:
                raise reader.fail(f"{path}.speaker", "'dispatcher' or 'driver'", speaker)
            expected = ROLES[index % 2]
            if speaker != expected:
                raise reader.fail(
                    f"{path}.speaker",
                    f"'{expected}' (lines alternate, the dispatcher first)",
                    speaker,
                )
        elif speaker not in roles:
            raise reader.fail(f"{path}.speaker", f"one of {_quoted(roles)}", speaker)
        elif index == 0 and speaker != roles[0]:
            raise reader.fail(f"{path}.speaker", f"'{roles[0]}' (the first agent opens)", speaker)
        elif index > 0 and speaker == lines[-1].speaker:
            raise reader.fail(
                f"{path}.speaker", f"a speaker other than '{speaker}' (one line per turn)", speaker
            )
        assert isinstance(speaker, str)
        lines.append(ScriptLine(speaker, reader.text(entry, "text", path, max_chars=500)))
    return tuple(lines)


def parse_turn_order(reader: _Reader, top: Mapping[str, Any]) -> TurnOrder:
    """``turn_order``: who speaks after a line when no script says (default ``addressed``)."""
    value = top.get("turn_order", "addressed")
    for order in TURN_ORDERS:
        if value == order:
            return order
    raise reader.fail("turn_order", f"one of {_quoted(TURN_ORDERS)}", value)


def agents_to_dict(agents: Sequence[Persona]) -> dict[str, Any]:
    """The JSON form of the agents that :func:`parse_agents` reads back to the same personas."""
    if is_pair(agents):
        # The role is the key the persona sits under; the parser refuses it as a field.
        return {
            p.role: {k: v for k, v in asdict(p).items() if k not in ("role", "instructions")}
            for p in agents
        }
    return {"agents": [{k: v for k, v in asdict(p).items() if v != ""} for p in agents]}


def generated_script(scenario: Scenario) -> tuple[ScriptLine, ...]:
    """Offline lines built from the scenario's fields, for scenarios that give no script."""
    if is_pair(scenario.agents):
        return _pair_script(scenario)
    opener, *others = scenario.agents
    delivery = scenario.delivery
    delivery_at = f" by {delivery.time}" if delivery.time else ""
    everyone = spoken_list([p.name for p in others])
    return (
        ScriptLine(
            opener.role,
            f"Hi {everyone}, this is {opener.name}. Calling about load {scenario.load_id}.",
        ),
        *(ScriptLine(p.role, f"Hi {opener.name}, {p.name} here. Go ahead.") for p in others),
        ScriptLine(
            opener.role,
            f"{scenario.situation} Can everyone still make {delivery.location}{delivery_at}?",
        ),
        *(ScriptLine(p.role, "We can make it. Goodbye.") for p in others),
        ScriptLine(opener.role, "Thanks everyone. Goodbye."),
    )


def _pair_script(scenario: Scenario) -> tuple[ScriptLine, ...]:
    tim, chris = scenario.agents[0].name, scenario.agents[1].name
    load, pickup, delivery = scenario.load_id, scenario.pickup, scenario.delivery
    pickup_at = f" at {pickup.time}" if pickup.time else ""
    delivery_at = f" by {delivery.time}" if delivery.time else ""
    return (
        ScriptLine(
            "dispatcher", f"Hi {chris}, this is {tim} from dispatch. Calling about load {load}."
        ),
        ScriptLine("driver", f"Hey {tim}, {chris} here. Go ahead, I have {load} in front of me."),
        ScriptLine("dispatcher", f"{scenario.situation}"),
        ScriptLine("driver", f"Understood. I picked up in {pickup.location}{pickup_at}."),
        ScriptLine("dispatcher", f"Can you still make {delivery.location}{delivery_at}?"),
        ScriptLine("driver", "I can make it. I will call you if anything changes."),
        ScriptLine("dispatcher", f"Thanks {chris}. Drive safe. Goodbye."),
        ScriptLine("driver", f"Thanks {tim}. Goodbye."),
    )


def spoken_list(names: Sequence[str]) -> str:
    """``Chris``, ``Chris and Rosa``, ``Chris, Rosa and Sam``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)
