"""The scenario model: what a dispatch call is about, validated with clear errors.

A scenario file is JSON. Every problem is reported as one line naming the file, the field and
what was expected, and nothing is created from a scenario that failed validation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agents.scenario_expect import Expectations, parse_expectations

MAX_FILE_BYTES = 256 * 1024
MAX_TEXT_CHARS = 2000
MAX_SCRIPT_LINES = 64
DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-12-17"
LOAD_ID_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,30}[A-Z0-9]$")
IDENTITY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

Role = Literal["dispatcher", "driver"]
ROLES: tuple[Role, Role] = ("dispatcher", "driver")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line: where, what, and the fix."""


@dataclass(frozen=True)
class Persona:
    """One agent of the call: who it is in the room and how it sounds."""

    role: Role
    name: str
    identity: str
    voice: str
    temperature: float
    model: str = DEFAULT_MODEL


@dataclass(frozen=True)
class Stop:
    """A pickup or delivery point."""

    location: str
    time: str = ""


@dataclass(frozen=True)
class ScriptLine:
    """One scripted line for the offline voice."""

    speaker: Role
    text: str


@dataclass(frozen=True)
class Scenario:
    """A validated dispatch-call scenario."""

    load_id: str
    title: str
    dispatcher: Persona
    driver: Persona
    pickup: Stop
    delivery: Stop
    situation: str
    max_turns: int = 8
    script: tuple[ScriptLine, ...] = field(default_factory=tuple)
    expect: Expectations | None = None
    source: str = "<scenario>"

    def persona(self, role: Role) -> Persona:
        return self.dispatcher if role == "dispatcher" else self.driver

    def lines_for(self, role: Role) -> list[str]:
        """The offline voice's lines for one role, scripted or generated from the fields."""
        script = self.script or generated_script(self)
        return [line.text for line in script if line.speaker == role]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in room metadata; ``from_dict`` reads it back."""
        data = asdict(self)
        data.pop("source")
        for role in ROLES:
            # The role is the key the persona sits under; the parser refuses it as a field.
            data[role].pop("role")
        for stop in ("pickup", "delivery"):
            if not data[stop]["time"]:
                # The time is optional; an empty string would be refused when read back.
                data[stop].pop("time")
        if self.script:
            data["script"] = [asdict(line) for line in self.script]
        else:
            # No script means "generate one"; an empty list would be refused when read back.
            data.pop("script")
        # Compiled patterns are no JSON: the contracts write their own form (absent when None).
        data.pop("expect")
        if self.expect is not None:
            data["expect"] = self.expect.to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


_DEFAULT_PERSONAS: dict[Role, dict[str, Any]] = {
    "dispatcher": {
        "name": "Tim",
        "identity": "dispatcher-tim",
        "voice": "alloy",
        "temperature": 0.8,
    },
    "driver": {"name": "Chris", "identity": "driver-chris", "voice": "echo", "temperature": 0.7},
}

_TOP_LEVEL_FIELDS = {
    "load_id",
    "title",
    "dispatcher",
    "driver",
    "pickup",
    "delivery",
    "situation",
    "max_turns",
    "script",
    "model",
    "expect",
}


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


def _persona(reader: _Reader, data: Mapping[str, Any], role: Role, model: str) -> Persona:
    raw = data.get(role, {})
    section = reader.mapping(raw, role)
    defaults = _DEFAULT_PERSONAS[role]
    unknown = set(section) - {"name", "identity", "voice", "temperature", "model"}
    if unknown:
        raise reader.fail(f"{role}.{sorted(unknown)[0]}", "no such field (typo?)")
    name = reader.text(
        section, "name", role, required=False, default=defaults["name"], max_chars=64
    )
    identity = reader.text(
        section, "identity", role, required=False, default=defaults["identity"], max_chars=63
    )
    if not IDENTITY_PATTERN.match(identity):
        raise reader.fail(f"{role}.identity", "lowercase letters, digits, '-' or '_'", identity)
    voice = reader.text(
        section, "voice", role, required=False, default=defaults["voice"], max_chars=32
    )
    temperature = section.get("temperature", defaults["temperature"])
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise reader.fail(f"{role}.temperature", "a number between 0.6 and 1.2", temperature)
    if not 0.6 <= float(temperature) <= 1.2:
        # The OpenAI realtime API accepts only this range.
        raise reader.fail(f"{role}.temperature", "a number between 0.6 and 1.2", temperature)
    persona_model = reader.text(
        section, "model", role, required=False, default=model, max_chars=100
    )
    return Persona(role, name, identity, voice, float(temperature), persona_model)


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


def _script(reader: _Reader, data: Mapping[str, Any]) -> tuple[ScriptLine, ...]:
    raw = data.get("script")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise reader.fail("script", "a list of {speaker, text}", raw)
    if not raw or len(raw) > MAX_SCRIPT_LINES:
        raise reader.fail("script", f"between 1 and {MAX_SCRIPT_LINES} lines", f"{len(raw)} lines")
    lines: list[ScriptLine] = []
    for index, item in enumerate(raw):
        path = f"script[{index}]"
        entry = reader.mapping(item, path)
        speaker = entry.get("speaker")
        if speaker not in ROLES:
            raise reader.fail(f"{path}.speaker", "'dispatcher' or 'driver'", speaker)
        expected: Role = ROLES[index % 2]
        if speaker != expected:
            raise reader.fail(
                f"{path}.speaker", f"'{expected}' (lines alternate, the dispatcher first)", speaker
            )
        lines.append(ScriptLine(speaker, reader.text(entry, "text", path, max_chars=500)))
    return tuple(lines)


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
    dispatcher = _persona(reader, top, "dispatcher", model)
    driver = _persona(reader, top, "driver", model)
    if dispatcher.identity == driver.identity:
        raise reader.fail(
            "driver.identity", "an identity different from the dispatcher's", driver.identity
        )
    max_turns = top.get("max_turns", 8)
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or not 2 <= max_turns <= 40:
        raise reader.fail("max_turns", "a whole number between 2 and 40", max_turns)
    script = _script(reader, top)
    expect = None
    if top.get("expect") is not None:
        expect = parse_expectations(reader, top["expect"], roles=ROLES, max_turns=max_turns)
    return Scenario(
        load_id=load_id,
        title=reader.text(
            top, "title", "", required=False, default=f"Load {load_id}", max_chars=120
        ),
        dispatcher=dispatcher,
        driver=driver,
        pickup=_stop(reader, top, "pickup"),
        delivery=_stop(reader, top, "delivery"),
        situation=reader.text(top, "situation", ""),
        max_turns=max_turns,
        script=script,
        expect=expect,
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


def generated_script(scenario: Scenario) -> tuple[ScriptLine, ...]:
    """Offline lines built from the scenario's fields, for scenarios that give no script."""
    tim, chris = scenario.dispatcher.name, scenario.driver.name
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
