"""Checking a call's record against its scenario's contracts (``agents.scenario_expect``).

``evaluate(expect, report)`` reads the ``report.json`` of one call (a plain mapping) and returns
one :class:`ExpectationResult` per contract, in the order the contracts are declared. A record
is data from disk: anything missing or of the wrong type fails the contract that needed it,
with the missing field named, and never raises.

Roles map to identities through ``agents[identity].role``; several agents with one role count
together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from agents.scenario import Scenario
from agents.scenario_expect import Expectations, TranscriptRules, TurnBounds
from tui.core.diagnostics.check import STATUS_ORDER, one_line

_SEVERITY_RANK: Final[dict[str, int]] = {
    **{str(status): rank for status, rank in STATUS_ORDER.items()},
    "info": STATUS_ORDER["ok"],
}
"""Severity of a finding in a record: the check statuses, and ``info`` that never counts."""
_SHOWN_CHARS: Final = 80


@dataclass(frozen=True)
class ExpectationResult:
    """One contract checked against one call."""

    name: str
    """Stable id, e.g. ``turns.dispatcher.min`` or ``transcript.driver.must_match[0]``."""
    passed: bool
    observed: object
    """What the record holds (JSON-ready); None when the record lacks it."""
    expected: str
    """The contract in words, e.g. ``at least 2``."""
    message: str
    """One line: name, observed and expected."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written by ``dispatch-tui run --json``."""
        return {
            "name": self.name,
            "passed": self.passed,
            "observed": self.observed,
            "expected": self.expected,
            "message": self.message,
        }


class _Missing(Exception):
    """A field the contract needs is absent or unusable; the message names it."""


def _result(
    name: str, passed: bool, observed: object, expected: str, shown: str
) -> ExpectationResult:
    verdict = "ok" if passed else "FAILED"
    message = f"{name} {verdict}: observed {shown}, expected {expected}"
    return ExpectationResult(name, passed, observed, expected, one_line(message))


def _missing(name: str, expected: str, why: _Missing) -> ExpectationResult:
    return _result(name, False, None, expected, f"nothing ({why})")


def _path(report: Mapping[str, Any], *keys: str) -> Any:
    value: Any = report
    for depth, key in enumerate(keys):
        if not isinstance(value, Mapping) or value.get(key) is None:
            raise _Missing(f"the record has no {'.'.join(keys[: depth + 1])}")
        value = value[key]
    return value


def _number(report: Mapping[str, Any], *keys: str) -> float:
    value = _path(report, *keys)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _Missing(f"{'.'.join(keys)} is not a number in the record")
    return float(value)


def _instant(value: object, key: str) -> float:
    """A timestamp as epoch seconds: a number, or an ISO 8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except (ValueError, OverflowError, OSError):
            pass
    raise _Missing(f"{key} is not a timestamp in the record")


def call_duration_s(report: Mapping[str, Any]) -> float | None:
    """Seconds from ``started_at`` to ``ended_at``, or None when the record cannot say."""
    try:
        return _duration(report)
    except _Missing:
        return None


def _duration(report: Mapping[str, Any]) -> float:
    started = _instant(_path(report, "started_at"), "started_at")
    ended = _instant(_path(report, "ended_at"), "ended_at")
    if ended < started:
        raise _Missing("ended_at is before started_at in the record")
    return ended - started


def response_gap_p95_s(report: Mapping[str, Any]) -> float | None:
    """The call's 95th-percentile response gap, or None when the record has none."""
    try:
        return _number(report, "turn_taking", "response_gap_s", "p95")
    except _Missing:
        return None


def _identities(report: Mapping[str, Any], role: str) -> list[str]:
    agents = _path(report, "agents")
    if not isinstance(agents, Mapping):
        raise _Missing("agents is not an object in the record")
    found = [
        str(identity)
        for identity, agent in agents.items()
        if isinstance(agent, Mapping) and agent.get("role") == role
    ]
    if not found:
        raise _Missing(f"no agent with role '{role}' in the record")
    return found


def _shorten(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def evaluate(expect: Expectations | None, report: Mapping[str, Any]) -> list[ExpectationResult]:
    """Every contract of ``expect`` checked against one call's record (none for None)."""
    if expect is None:
        return []
    results: list[ExpectationResult] = []
    for bounds in expect.turns:
        results.extend(_turns(bounds, report))
    if expect.max_overlaps is not None:
        results.append(_overlaps(expect.max_overlaps, report))
    if expect.max_response_gap_p95_s is not None:
        results.append(_gap(expect.max_response_gap_p95_s, report))
    if expect.max_duration_s is not None:
        results.append(_max_duration(expect.max_duration_s, report))
    if expect.ended_reason:
        results.append(_ended_reason(expect.ended_reason, report))
    for rules in expect.transcript:
        results.extend(_transcript(rules, report))
    if expect.no_findings_at_or_above is not None:
        results.append(_findings(expect.no_findings_at_or_above, report))
    return results


def _turns(bounds: TurnBounds, report: Mapping[str, Any]) -> list[ExpectationResult]:
    checks = [
        (f"turns.{bounds.role}.{key}", limit, f"{word} {limit}")
        for key, limit, word in (("min", bounds.min, "at least"), ("max", bounds.max, "at most"))
        if limit is not None
    ]
    try:
        count = 0
        for identity in _identities(report, bounds.role):
            value = _path(report, "agents", identity, "turns")
            if isinstance(value, bool) or not isinstance(value, int):
                raise _Missing(f"agents.{identity}.turns is not a whole number in the record")
            count += value
    except _Missing as why:
        return [_missing(name, expected, why) for name, _, expected in checks]
    results = []
    for name, limit, expected in checks:
        assert limit is not None
        passed = count >= limit if name.endswith(".min") else count <= limit
        shown = f"{count} turn" + ("" if count == 1 else "s")
        results.append(_result(name, passed, count, expected, shown))
    return results


def _overlaps(limit: int, report: Mapping[str, Any]) -> ExpectationResult:
    name, expected = "max_overlaps", f"at most {limit}"
    try:
        value = _path(report, "turn_taking", "overlaps")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Missing("turn_taking.overlaps is not a whole number in the record")
    except _Missing as why:
        return _missing(name, expected, why)
    return _result(name, value <= limit, value, expected, str(value))


def _gap(limit: float, report: Mapping[str, Any]) -> ExpectationResult:
    name, expected = "max_response_gap_p95_s", f"at most {_seconds(limit)}"
    try:
        value = _number(report, "turn_taking", "response_gap_s", "p95")
    except _Missing as why:
        return _missing(name, expected, why)
    return _result(name, value <= limit, value, expected, _seconds(value))


def _max_duration(limit: float, report: Mapping[str, Any]) -> ExpectationResult:
    name, expected = "max_duration_s", f"at most {_seconds(limit)}"
    try:
        value = _duration(report)
    except _Missing as why:
        return _missing(name, expected, why)
    return _result(name, value <= limit, round(value, 3), expected, _seconds(value))


def _ended_reason(allowed: Sequence[str], report: Mapping[str, Any]) -> ExpectationResult:
    name, expected = "ended_reason", f"one of {', '.join(allowed)}"
    try:
        value = _path(report, "ended_reason")
        if not isinstance(value, str):
            raise _Missing("ended_reason is not text in the record")
    except _Missing as why:
        return _missing(name, expected, why)
    return _result(name, value in allowed, value, expected, repr(_shorten(value)))


def _lines(report: Mapping[str, Any], identities: Sequence[str]) -> list[str]:
    transcript = _path(report, "transcript")
    if not isinstance(transcript, list):
        raise _Missing("transcript is not a list in the record")
    return [
        entry["text"]
        for entry in transcript
        if isinstance(entry, Mapping)
        and entry.get("identity") in identities
        and isinstance(entry.get("text"), str)
    ]


def _transcript(rules: TranscriptRules, report: Mapping[str, Any]) -> list[ExpectationResult]:
    base = f"transcript.{rules.role}"
    wanted = [
        (f"{base}.must_match[{i}]", p, True, f"a line matching /{p.pattern}/")
        for i, p in enumerate(rules.must_match)
    ] + [
        (f"{base}.must_not_match[{i}]", p, False, f"no line matching /{p.pattern}/")
        for i, p in enumerate(rules.must_not_match)
    ]
    try:
        lines = _lines(report, _identities(report, rules.role))
    except _Missing as why:
        return [_missing(name, expected, why) for name, _, _, expected in wanted]
    results = []
    for name, pattern, must, expected in wanted:
        hit = _first_match(pattern, lines)
        if hit is None:
            shown = f"no match in {len(lines)} {rules.role} lines"
            results.append(_result(name, not must, None, expected, shown))
        else:
            results.append(_result(name, must, hit, expected, repr(_shorten(hit))))
    return results


def _first_match(pattern: re.Pattern[str], lines: Sequence[str]) -> str | None:
    return next((line for line in lines if pattern.search(line)), None)


def _findings(threshold: str, report: Mapping[str, Any]) -> ExpectationResult:
    name, expected = "no_findings_at_or_above", f"no finding at or above {threshold}"
    try:
        findings = _path(report, "findings")
        if not isinstance(findings, list):
            raise _Missing("findings is not a list in the record")
    except _Missing as why:
        return _missing(name, expected, why)
    bar = _SEVERITY_RANK[threshold]
    offending = []
    for finding in findings:
        if not isinstance(finding, Mapping):
            offending.append("a finding that is not an object")
            continue
        label = next(
            (str(finding[key]) for key in ("check", "name", "id") if finding.get(key)), "?"
        )
        severity = finding.get("severity", finding.get("status"))
        rank = _SEVERITY_RANK.get(severity) if isinstance(severity, str) else None
        if rank is None:
            # An unknown severity cannot be ranked: count it rather than pass it unseen.
            offending.append(f"{label} (unknown severity {severity!r})")
        elif rank >= bar:
            offending.append(f"{label}: {severity}")
    shown = ", ".join(_shorten(item) for item in offending) if offending else "none"
    return _result(name, not offending, offending, expected, shown)


@dataclass(frozen=True)
class CallVerdict:
    """One call of ``dispatch-tui run``: its record, its contracts checked, or why it has none."""

    scenario: str
    """The scenario's load id."""
    source: str
    """The scenario file, as given on the command line."""
    index: int
    """1 for the first call of this scenario, up to ``--repeat``."""
    report_path: str | None
    results: tuple[ExpectationResult, ...] = ()
    error: str | None = None
    """Why the call produced no record (the call itself failed), else None."""
    duration_s: float | None = None
    gap_p95_s: float | None = None

    @property
    def passed(self) -> bool:
        """A record exists and every contract held."""
        return self.error is None and all(result.passed for result in self.results)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [result for result in self.results if not result.passed]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written by ``dispatch-tui run --json``."""
        return {
            "scenario": self.scenario,
            "source": self.source,
            "index": self.index,
            "record": self.report_path,
            "passed": self.passed,
            "error": self.error,
            "duration_s": self.duration_s,
            "response_gap_p95_s": self.gap_p95_s,
            "expectations": [result.as_dict() for result in self.results],
        }


def judge_call(
    scenario: Scenario,
    index: int,
    report_path: str | None,
    report: Mapping[str, Any] | None,
    error: str | None = None,
) -> CallVerdict:
    """The verdict on one call: its record checked against ``scenario.expect``.

    ``report`` None (or ``error`` given) means the call failed before writing a record: the
    verdict is an error, whatever the contracts say.
    """
    if report is None or error is not None:
        why = one_line(error or "the call wrote no record")
        return CallVerdict(scenario.load_id, scenario.source, index, report_path, error=why)
    return CallVerdict(
        scenario.load_id,
        scenario.source,
        index,
        report_path,
        results=tuple(evaluate(scenario.expect, report)),
        duration_s=call_duration_s(report),
        gap_p95_s=response_gap_p95_s(report),
    )
