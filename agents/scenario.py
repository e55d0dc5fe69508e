"""The scenario model: what a dispatch call is about, validated with clear errors.

A scenario file is JSON. Every problem is reported as one line naming the file, the field and
what was expected, and nothing is created from a scenario that failed validation. Who takes
part (the pair form or a list of two to six agents), the script and the turn order are read by
:mod:`agents.scenario_agents`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.scenario_agents import (
    DEFAULT_MODEL,
    IDENTITY_PATTERN,
    MAX_SCRIPT_LINES,
    ROLES,
    Persona,
    Role,
    ScriptLine,
    TurnOrder,
    agents_to_dict,
    generated_script,
    parse_agents,
    parse_script,
    parse_turn_order,
)
from agents.scenario_expect import Expectations, parse_expectations

__all__ = [
    "DEFAULT_MODEL",
    "IDENTITY_PATTERN",
    "LOAD_ID_PATTERN",
    "MAX_FILE_BYTES",
    "MAX_SCRIPT_LINES",
    "MAX_TEXT_CHARS",
    "ROLES",
    "Persona",
    "Role",
    "Scenario",
    "ScenarioError",
    "ScriptLine",
    "Stop",
    "generated_script",
    "load_scenario",
    "parse_scenario",
    "parse_scenario_json",
    "scenario_from_metadata",
]

MAX_FILE_BYTES = 256 * 1024
MAX_TEXT_CHARS = 2000
LOAD_ID_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,30}[A-Z0-9]$")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line: where, what, and the fix."""


@dataclass(frozen=True)
class Stop:
    """A pickup or delivery point."""

    location: str
    time: str = ""


@dataclass(frozen=True)
class Scenario:
    """A validated dispatch-call scenario."""

    load_id: str
    title: str
    agents: tuple[Persona, ...]
    """Two to six agents in list order; the first opens the call and is the job participant."""
    pickup: Stop
    delivery: Stop
    situation: str
    max_turns: int = 8
    script: tuple[ScriptLine, ...] = field(default_factory=tuple)
    turn_order: TurnOrder = "addressed"
    expect: Expectations | None = None
    observer_wait_s: float = 0.0
    """How long the job waits, before its agents join, for a hidden observer to be in the room
    (0: not at all). dispatch-tui sets it on rooms it creates and
    watches, so the observer hears the call from its first word."""
    source: str = "<scenario>"

    @property
    def roles(self) -> tuple[Role, ...]:
        """Every agent's role, in list order."""
        return tuple(persona.role for persona in self.agents)

    def persona(self, role: Role) -> Persona:
        """The agent playing ``role``; KeyError if none does."""
        for persona in self.agents:
            if persona.role == role:
                return persona
        raise KeyError(f"{self.load_id} has no agent with role {role!r}")

    @property
    def dispatcher(self) -> Persona:
        """The agent whose role is ``dispatcher`` (every pair-form scenario has one)."""
        return self.persona("dispatcher")

    @property
    def driver(self) -> Persona:
        """The agent whose role is ``driver`` (every pair-form scenario has one)."""
        return self.persona("driver")

    def lines_for(self, role: Role) -> list[str]:
        """The offline voice's lines for one role, scripted or generated from the fields."""
        return [line.text for line in self.speaking_order() if line.speaker == role]

    def speaking_order(self) -> tuple[ScriptLine, ...]:
        """The offline call's lines in order: the script, or one generated from the fields."""
        return self.script or generated_script(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in room metadata; ``parse_scenario`` reads it back."""
        data: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "agents":
                data.update(agents_to_dict(self.agents))
            elif key not in ("source", "turn_order", "expect", "observer_wait_s"):
                data[key] = value
        for stop in ("pickup", "delivery"):
            if not data[stop]["time"]:
                # The time is optional; an empty string would be refused when read back.
                data[stop].pop("time")
        if self.script:
            data["script"] = [asdict(line) for line in self.script]
        else:
            # No script means "generate one"; an empty list would be refused when read back.
            data.pop("script")
        if self.turn_order != "addressed":
            data["turn_order"] = self.turn_order
        if self.observer_wait_s:
            data["observer_wait_s"] = self.observer_wait_s
        # Compiled patterns are no JSON: the contracts write their own form (absent when None).
        if self.expect is not None:
            data["expect"] = self.expect.to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


_TOP_LEVEL_FIELDS = {
    "load_id",
    "title",
    "dispatcher",
    "driver",
    "agents",
    "turn_order",
    "pickup",
    "delivery",
    "situation",
    "max_turns",
    "script",
    "model",
    "expect",
    "observer_wait_s",
}
MAX_OBSERVER_WAIT_S = 60


class _Reader:
    """Field access that turns every problem into a ScenarioError naming source and path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, expected: str, got: object = None) -> ScenarioError:
        shown = "" if got is None else f", got {_describe(got)}"
        return ScenarioError(
            f"{self.source}: field '{_field_path(path)}': expected {expected}{shown}"
        )

    def mapping(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "an object", value)
        return value

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        default: str = "",
        max_chars: int = MAX_TEXT_CHARS,
    ) -> str:
        full = f"{path}.{key}" if path else key
        if key not in data or data[key] is None:
            if required:
                raise self.fail(full, "a non-empty string (missing)")
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(full, "a non-empty string", value)
        if len(value) > max_chars:
            raise self.fail(full, f"at most {max_chars} characters", f"{len(value)} characters")
        if any(_is_control(ch) for ch in value):
            raise self.fail(full, "text without control characters", value)
        return value.strip()


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} and ch not in "\n"


def _field_path(path: str) -> str:
    """A field path for a message. Unknown keys come from the file: escape control characters
    (a newline or an escape sequence would forge output lines or drive the terminal when the
    CLI prints the error) and cut very long keys, so the message stays one short line."""
    if not path.isprintable():
        path = repr(path)[1:-1]
    return path if len(path) <= 60 else path[:57] + "..."


def _describe(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _stop(reader: _Reader, data: Mapping[str, Any], key: str) -> Stop:
    if key not in data:
        raise reader.fail(key, "an object with 'location' (missing)")
    raw = data[key]
    if isinstance(raw, str):
        return Stop(reader.text(data, key, ""))
    section = reader.mapping(raw, key)
    return Stop(
        location=reader.text(section, "location", key, max_chars=200),
        time=reader.text(section, "time", key, required=False, max_chars=100),
    )


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """Validate decoded JSON and build a Scenario, or raise ScenarioError."""
    reader = _Reader(source)
    top = reader.mapping(data, "(top level)")
    unknown = set(top) - _TOP_LEVEL_FIELDS
    if unknown:
        raise reader.fail(sorted(unknown)[0], "no such field (typo?)")
    load_id = reader.text(top, "load_id", "", max_chars=32)
    if not LOAD_ID_PATTERN.match(load_id):
        raise reader.fail(
            "load_id", "2-32 uppercase letters, digits and '-' such as 'HDX-2478'", load_id
        )
    model = reader.text(top, "model", "", required=False, default=DEFAULT_MODEL, max_chars=100)
    agents = parse_agents(reader, top, model)
    max_turns = top.get("max_turns", 8)
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or not 2 <= max_turns <= 40:
        raise reader.fail("max_turns", "a whole number between 2 and 40", max_turns)
    script = parse_script(reader, top, agents)
    observer_wait_s = top.get("observer_wait_s", 0)
    if (
        isinstance(observer_wait_s, bool)
        or not isinstance(observer_wait_s, int | float)
        or not 0 <= observer_wait_s <= MAX_OBSERVER_WAIT_S
    ):
        raise reader.fail(
            "observer_wait_s", f"seconds between 0 and {MAX_OBSERVER_WAIT_S}", observer_wait_s
        )
    expect = None
    if top.get("expect") is not None:
        roles = [persona.role for persona in agents]
        expect = parse_expectations(reader, top["expect"], roles=roles, max_turns=max_turns)
    return Scenario(
        load_id=load_id,
        title=reader.text(
            top, "title", "", required=False, default=f"Load {load_id}", max_chars=120
        ),
        agents=agents,
        pickup=_stop(reader, top, "pickup"),
        delivery=_stop(reader, top, "delivery"),
        situation=reader.text(top, "situation", ""),
        max_turns=max_turns,
        script=script,
        turn_order=parse_turn_order(reader, top),
        expect=expect,
        observer_wait_s=float(observer_wait_s),
        source=source,
    )


def parse_scenario_json(text: str | bytes, source: str = "<scenario>") -> Scenario:
    """Decode JSON text and validate it."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"{source}: the scenario is {len(text)} bytes; at most {MAX_FILE_BYTES} are accepted"
        )
    try:
        data = json.loads(text)
    except UnicodeDecodeError:
        raise ScenarioError(f"{source}: not UTF-8 text; save the scenario as UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        # A few hundred kilobytes of brackets exceed the decoder's recursion limit.
        raise ScenarioError(
            f"{source}: JSON nested too deeply; a scenario is a flat object"
        ) from None
    except ValueError:  # an integer over Python's 4300-digit conversion limit
        raise ScenarioError(
            f"{source}: a number with thousands of digits; use small numbers"
        ) from None
    return parse_scenario(data, source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                f"{path}: the file is {size} bytes; scenarios are at most {MAX_FILE_BYTES} bytes"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(
            f"{path}: no such file; pass a scenario JSON such as scenarios/hdx-2478.json"
        ) from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory; pass a scenario JSON file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror})") from None
    return parse_scenario_json(raw, str(path))


def scenario_from_metadata(metadata: str) -> Scenario:
    """Rebuild the scenario a room was created with from its metadata."""
    if not metadata:
        raise ScenarioError("room metadata: empty; create the room with `dispatch-tui create-room`")
    return parse_scenario_json(metadata, "room metadata")
