"""Contracts in a scenario: the optional ``expect`` object that ``dispatch-tui run`` checks.

A scenario may say what a good call looks like::

    "expect": {
      "turns": {"dispatcher": {"min": 2, "max": 6}, "driver": {"min": 2}},
      "max_overlaps": 0,
      "max_response_gap_p95_s": 2.0,
      "max_duration_s": 90,
      "ended_reason": ["goodbye", "max_turns"],
      "transcript": {"driver": {"must_match": ["(?i)34"], "must_not_match": ["(?i)sorry"]}},
      "no_findings_at_or_above": "fail"
    }

Every field is optional, but an object must say something. Roles are keys: they are checked
against the roles the scenario declares (``roles``, passed in by the scenario parser), so a
scenario with other roles needs no change here. Patterns are compiled when the scenario is read:
a broken regular expression is a scenario error, not a failed call. The evaluator lives in
``tui.core.contracts``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

END_REASONS: Final = ("goodbye", "max_turns", "no_reply", "error", "closed")
"""Why a call ends, as the worker reports it (``agents.turn_relay.StopReason``; a test keeps
the two equal)."""
SEVERITIES: Final = ("pending", "warn", "fail")
"""Finding severities a contract can refuse: the troubleshooting statuses above ``ok``, mildest
first (``tui.core.diagnostics.check.STATUS_ORDER``; a test keeps the two equal)."""
MAX_PATTERNS: Final = 16
MAX_PATTERN_CHARS: Final = 200
MAX_SECONDS: Final = 3600
MAX_OVERLAPS: Final = 1000
_WHAT: Final = "contracts such as 'turns' or 'max_duration_s'"
_FIELDS: Final = (
    "turns",
    "max_overlaps",
    "max_response_gap_p95_s",
    "max_duration_s",
    "ended_reason",
    "transcript",
    "no_findings_at_or_above",
)


class FieldReader(Protocol):
    """What the parser needs from the scenario's reader: an error naming file and field."""

    def fail(self, path: str, expected: str, got: object = None) -> Exception: ...


@dataclass(frozen=True)
class TurnBounds:
    """How many lines one role may say: ``min`` and ``max`` inclusive, None for no bound."""

    role: str
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class TranscriptRules:
    """Patterns searched in each of one role's transcript lines."""

    role: str
    must_match: tuple[re.Pattern[str], ...] = ()
    """Each must match at least one line."""
    must_not_match: tuple[re.Pattern[str], ...] = ()
    """None may match any line."""


@dataclass(frozen=True)
class Expectations:
    """A scenario's contracts; None or empty fields are not checked."""

    turns: tuple[TurnBounds, ...] = ()
    max_overlaps: int | None = None
    max_response_gap_p95_s: float | None = None
    max_duration_s: float | None = None
    ended_reason: tuple[str, ...] = ()
    transcript: tuple[TranscriptRules, ...] = ()
    no_findings_at_or_above: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``parse_expectations`` reads it back to an equal value."""
        data: dict[str, Any] = {}
        if self.turns:
            data["turns"] = {
                bounds.role: {
                    key: value
                    for key, value in (("min", bounds.min), ("max", bounds.max))
                    if value is not None
                }
                for bounds in self.turns
            }
        for key in ("max_overlaps", "max_response_gap_p95_s", "max_duration_s"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.ended_reason:
            data["ended_reason"] = list(self.ended_reason)
        if self.transcript:
            data["transcript"] = {rules.role: _rules_dict(rules) for rules in self.transcript}
        if self.no_findings_at_or_above is not None:
            data["no_findings_at_or_above"] = self.no_findings_at_or_above
        return data


def _rules_dict(rules: TranscriptRules) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    if rules.must_match:
        data["must_match"] = [pattern.pattern for pattern in rules.must_match]
    if rules.must_not_match:
        data["must_not_match"] = [pattern.pattern for pattern in rules.must_not_match]
    return data


def parse_expectations(
    reader: FieldReader, raw: object, *, roles: Sequence[str], max_turns: int
) -> Expectations:
    """Validate a scenario's ``expect`` object; raise ``reader.fail(...)`` on the first problem.

    ``roles`` are the roles the scenario declares (the only keys ``turns`` and ``transcript``
    accept); ``max_turns`` bounds the turn counts a call can reach.
    """
    top = _object(reader, raw, "expect", _WHAT)
    for key in top:
        if key not in _FIELDS:
            raise reader.fail(
                f"expect.{key}", f"no such field (typo?); known: {', '.join(_FIELDS)}"
            )
    expect = Expectations(
        turns=_turns(reader, top.get("turns"), roles, max_turns),
        max_overlaps=_count(reader, top.get("max_overlaps"), "expect.max_overlaps", MAX_OVERLAPS),
        max_response_gap_p95_s=_seconds(
            reader, top.get("max_response_gap_p95_s"), "expect.max_response_gap_p95_s"
        ),
        max_duration_s=_seconds(reader, top.get("max_duration_s"), "expect.max_duration_s"),
        ended_reason=_choices(reader, top.get("ended_reason"), "expect.ended_reason", END_REASONS),
        transcript=_transcript(reader, top.get("transcript"), roles),
        no_findings_at_or_above=_severity(reader, top.get("no_findings_at_or_above")),
    )
    if expect == Expectations():  # every field null: nothing would be checked
        raise reader.fail("expect", f"an object of {_WHAT}, not only nulls")
    return expect


def _object(reader: FieldReader, raw: object, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise reader.fail(path, f"an object of {what}", raw)
    if not raw:
        raise reader.fail(path, f"an object of {what}, not an empty one")
    return raw


def _role(reader: FieldReader, key: str, path: str, roles: Sequence[str]) -> str:
    """The one place a contract's role key is checked against the scenario's roles."""
    if key not in roles:
        known = " or ".join(f"'{role}'" for role in roles)
        raise reader.fail(f"{path}.{key}", f"a role of this scenario ({known})")
    return key


def _turns(
    reader: FieldReader, raw: object, roles: Sequence[str], max_turns: int
) -> tuple[TurnBounds, ...]:
    if raw is None:
        return ()
    section = _object(reader, raw, "expect.turns", "roles, each {min, max}")
    result = []
    for key, value in section.items():
        role = _role(reader, key, "expect.turns", roles)
        path = f"expect.turns.{role}"
        bounds = _object(reader, value, path, "'min' and/or 'max' turn counts")
        for unknown in bounds:
            if unknown not in ("min", "max"):
                raise reader.fail(f"{path}.{unknown}", "no such field (typo?); known: min, max")
        low = _count(reader, bounds.get("min"), f"{path}.min", max_turns)
        high = _count(reader, bounds.get("max"), f"{path}.max", max_turns)
        if low is None and high is None:
            raise reader.fail(path, "'min' and/or 'max' turn counts, not only nulls")
        if low is not None and high is not None and low > high:
            raise reader.fail(f"{path}.min", f"at most {path}.max ({high})", low)
        result.append(TurnBounds(role, low, high))
    return tuple(result)


def _count(reader: FieldReader, raw: object, path: str, limit: int) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= limit:
        raise reader.fail(path, f"a whole number between 0 and {limit}", raw)
    return raw


def _seconds(reader: FieldReader, raw: object, path: str) -> float | None:
    if raw is None:
        return None
    # Compare before converting: float(10**400) overflows; NaN and infinity fail the range.
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= MAX_SECONDS:
        raise reader.fail(path, f"seconds, a number above 0 and at most {MAX_SECONDS}", raw)
    return float(raw)


def _strings(reader: FieldReader, raw: object, path: str, limit: int) -> list[tuple[str, str]]:
    """A string or a non-empty list of strings, as (path of the item, string) pairs."""
    if isinstance(raw, str):
        return [(path, raw)]
    if not isinstance(raw, list) or not raw or len(raw) > limit:
        raise reader.fail(path, f"a string or a list of 1 to {limit} strings", raw)
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            raise reader.fail(f"{path}[{index}]", "a string", item)
    return [(f"{path}[{index}]", item) for index, item in enumerate(raw)]


def _choices(
    reader: FieldReader, raw: object, path: str, allowed: Sequence[str]
) -> tuple[str, ...]:
    if raw is None:
        return ()
    chosen: list[str] = []
    for item_path, value in _strings(reader, raw, path, len(allowed)):
        if value not in allowed:
            raise reader.fail(item_path, f"one of {', '.join(allowed)}", value)
        if value not in chosen:
            chosen.append(value)
    return tuple(chosen)


def _severity(reader: FieldReader, raw: object) -> str | None:
    if raw is None:
        return None
    if raw not in SEVERITIES:
        raise reader.fail("expect.no_findings_at_or_above", f"one of {', '.join(SEVERITIES)}", raw)
    return str(raw)


def _transcript(
    reader: FieldReader, raw: object, roles: Sequence[str]
) -> tuple[TranscriptRules, ...]:
    if raw is None:
        return ()
    section = _object(reader, raw, "expect.transcript", "roles, each {must_match, must_not_match}")
    result = []
    for key, value in section.items():
        role = _role(reader, key, "expect.transcript", roles)
        path = f"expect.transcript.{role}"
        rules = _object(reader, value, path, "'must_match' and/or 'must_not_match' patterns")
        for unknown in rules:
            if unknown not in ("must_match", "must_not_match"):
                raise reader.fail(
                    f"{path}.{unknown}", "no such field (typo?); known: must_match, must_not_match"
                )
        parsed = TranscriptRules(
            role,
            _patterns(reader, rules.get("must_match"), f"{path}.must_match"),
            _patterns(reader, rules.get("must_not_match"), f"{path}.must_not_match"),
        )
        if not parsed.must_match and not parsed.must_not_match:
            raise reader.fail(path, "'must_match' and/or 'must_not_match' patterns, not only nulls")
        result.append(parsed)
    return tuple(result)


def _patterns(reader: FieldReader, raw: object, path: str) -> tuple[re.Pattern[str], ...]:
    if raw is None:
        return ()
    compiled = []
    for item_path, text in _strings(reader, raw, path, MAX_PATTERNS):
        if not text or len(text) > MAX_PATTERN_CHARS:
            raise reader.fail(
                item_path,
                f"a pattern of 1 to {MAX_PATTERN_CHARS} characters",
                f"{len(text)} characters",
            )
        if not text.isprintable():
            # The pattern is printed in reports; escapes such as \n or \t are written as text.
            raise reader.fail(item_path, "a pattern without control characters (write \\n)", text)
        try:
            compiled.append(re.compile(text))
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            detail = exc.msg if isinstance(exc, re.error) else type(exc).__name__
            raise reader.fail(item_path, f"a valid regular expression ({detail})", text) from None
    return tuple(compiled)
