"""The evaluator: each contract passes or fails on a call's record with the observed value, and a
record missing data fails the contract that needed it without raising."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PROJECT
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.floor import scenario_floor
from agents.scenario import Scenario, load_scenario, parse_scenario
from agents.scenario_expect import Expectations
from agents.turn_relay import TurnBook
from tui.core.contracts import (
    CallVerdict,
    ExpectationResult,
    call_duration_s,
    evaluate,
    judge_call,
)

HDX = PROJECT / "scenarios" / "hdx-2478.json"
SHIPPED = sorted((PROJECT / "scenarios").glob("*.json"))

FULL: dict[str, Any] = {
    "turns": {"dispatcher": {"min": 2, "max": 6}, "driver": {"min": 2}},
    "max_overlaps": 0,
    "max_response_gap_p95_s": 2.0,
    "max_duration_s": 90,
    "ended_reason": ["goodbye", "max_turns"],
    "transcript": {"driver": {"must_match": ["(?i)34"], "must_not_match": ["(?i)sorry"]}},
    "no_findings_at_or_above": "fail",
}
NAMES = [
    "turns.dispatcher.min",
    "turns.dispatcher.max",
    "turns.driver.min",
    "max_overlaps",
    "max_response_gap_p95_s",
    "max_duration_s",
    "ended_reason",
    "transcript.driver.must_match[0]",
    "transcript.driver.must_not_match[0]",
    "no_findings_at_or_above",
]


def scenario_with(expect: dict[str, Any] | None) -> Scenario:
    data: dict[str, Any] = json.loads(HDX.read_text(encoding="utf-8"))
    data.pop("expect", None)
    if expect is not None:
        data["expect"] = expect
    return parse_scenario(data, "scenarios/hdx-2478.json")


def expectations(expect: dict[str, Any] = FULL) -> Expectations:
    parsed = scenario_with(expect).expect
    assert parsed is not None
    return parsed


def record() -> dict[str, Any]:
    """A record of a good HDX-2478 call, shaped like report.json."""
    identity = {"dispatcher": "dispatcher-tim", "driver": "driver-chris"}
    script = scenario_with(None).script
    return {
        "room": "conv_HDX-2478_20260501T120000000000Z_abcdef",
        "scenario": "HDX-2478",
        "started_at": "2026-05-01T12:00:00+00:00",
        "ended_at": "2026-05-01T12:00:40.500000+00:00",
        "ended_reason": "max_turns",
        "agents": {
            "dispatcher-tim": {
                "name": "Tim",
                "role": "dispatcher",
                "turns": 4,
                "speaking_s": 15.2,
                "latency": {"p50": 0.41, "p95": 0.62},
            },
            "driver-chris": {
                "name": "Chris",
                "role": "driver",
                "turns": 4,
                "speaking_s": 14.8,
                "latency": {"p50": 0.43, "p95": 0.7},
            },
        },
        "turn_taking": {
            "response_gap_s": {"p50": 0.05, "p95": 0.11, "max": 0.2},
            "overlaps": 0,
            "overlap_s": 0.0,
            "dead_air_s": 1.1,
            "longest_turn_s": 5.2,
            "deadlocks": 0,
        },
        "transcript": [
            {
                "identity": identity[line.speaker],
                "text": line.text,
                "start_s": 4.0 * i,
                "end_s": 4.0 * i + 3.5,
            }
            for i, line in enumerate(script)
        ],
        "findings": [
            {"check": "room.dispatcher", "severity": "ok", "message": "Tim is in the room"},
            {"check": "audio.overlap", "severity": "warn", "message": "0.4 s at once"},
        ],
    }


def by_name(results: list[ExpectationResult]) -> dict[str, ExpectationResult]:
    return {result.name: result for result in results}


def assert_one_line(result: ExpectationResult) -> None:
    assert "\n" not in result.message and "\r" not in result.message, result.message
    assert result.message.startswith(f"{result.name} {'ok' if result.passed else 'FAILED'}:")


def test_a_good_call_passes_every_contract_in_declared_order() -> None:
    results = evaluate(expectations(), record())
    assert [result.name for result in results] == NAMES
    assert all(result.passed for result in results), [r.message for r in results]
    for result in results:
        assert_one_line(result)
    got = by_name(results)
    assert got["turns.dispatcher.min"].observed == 4
    assert got["max_response_gap_p95_s"].observed == 0.11
    assert got["max_duration_s"].observed == 40.5
    assert got["transcript.driver.must_match[0]"].observed == (
        "Got it, 34 continuous. If I roll by noon, Thursday eight is tight."
    )
    assert got["transcript.driver.must_not_match[0]"].observed is None
    assert got["no_findings_at_or_above"].observed == []
    assert got["turns.dispatcher.min"].message == (
        "turns.dispatcher.min ok: observed 4 turns, expected at least 2"
    )


def _set(path: str, value: object) -> Any:
    def change(report: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = report
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value

    return change


FAILING: list[tuple[str, Any, str, object, str]] = [
    # (case, change to the good record, failing contract, observed, message fragment)
    (
        "too few",
        _set("agents/dispatcher-tim/turns", 1),
        "turns.dispatcher.min",
        1,
        "observed 1 turn, expected at least 2",
    ),
    (
        "too many",
        _set("agents/dispatcher-tim/turns", 7),
        "turns.dispatcher.max",
        7,
        "observed 7 turns, expected at most 6",
    ),
    (
        "overlaps",
        _set("turn_taking/overlaps", 2),
        "max_overlaps",
        2,
        "observed 2, expected at most 0",
    ),
    (
        "slow replies",
        _set("turn_taking/response_gap_s/p95", 2.75),
        "max_response_gap_p95_s",
        2.75,
        "observed 2.75 s, expected at most 2.00 s",
    ),
    (
        "long call",
        _set("ended_at", "2026-05-01T12:01:35+00:00"),
        "max_duration_s",
        95.0,
        "observed 95.00 s, expected at most 90.00 s",
    ),
    (
        "ended in error",
        _set("ended_reason", "error"),
        "ended_reason",
        "error",
        "observed 'error', expected one of goodbye, max_turns",
    ),
    (
        "never said 34",
        _set("transcript/3/text", "Got it, continuous."),
        "transcript.driver.must_match[0]",
        None,
        "observed no match in 4 driver lines, expected a line matching /(?i)34/",
    ),
    (
        "said sorry",
        _set("transcript/5/text", "Sorry, I lost you there."),
        "transcript.driver.must_not_match[0]",
        "Sorry, I lost you there.",
        "observed 'Sorry, I lost you there.', expected no line matching /(?i)sorry/",
    ),
    (
        "a failing finding",
        _set("findings/1/severity", "fail"),
        "no_findings_at_or_above",
        ["audio.overlap: fail"],
        "observed audio.overlap: fail, expected no finding at or above fail",
    ),
]


@pytest.mark.parametrize(
    ("change", "name", "observed", "fragment"),
    [case[1:] for case in FAILING],
    ids=[case[0] for case in FAILING],
)
def test_each_contract_fails_alone_with_what_was_observed(
    change: Any, name: str, observed: object, fragment: str
) -> None:
    report = record()
    change(report)
    results = by_name(evaluate(expectations(), report))
    failed = [result.name for result in results.values() if not result.passed]
    assert failed == [name]
    result = results[name]
    assert result.observed == observed
    assert fragment in result.message, result.message
    assert_one_line(result)


def test_the_driver_role_is_found_through_the_agents_roles_not_identities() -> None:
    report = record()
    report["agents"]["chris-7"] = report["agents"].pop("driver-chris")
    for line in report["transcript"]:
        if line["identity"] == "driver-chris":
            line["identity"] = "chris-7"
    assert all(result.passed for result in evaluate(expectations(), report))
    # Lines of an identity with no role never count for a role.
    report["agents"]["chris-7"]["role"] = "observer"
    results = by_name(evaluate(expectations(), report))
    assert not results["turns.driver.min"].passed
    assert "no agent with role 'driver' in the record" in results["turns.driver.min"].message


def test_agents_sharing_a_role_count_together() -> None:
    report = record()
    report["agents"]["driver-2"] = {"name": "Sam", "role": "driver", "turns": 1}
    report["agents"]["driver-chris"]["turns"] = 1
    assert by_name(evaluate(expectations(), report))["turns.driver.min"].observed == 2


MISSING: list[tuple[str, Any, list[str], str]] = [
    (
        "no agents",
        lambda r: r.pop("agents"),
        ["turns.dispatcher.min", "turns.driver.min"],
        "agents",
    ),
    (
        "agents not an object",
        _set("agents", ["dispatcher-tim"]),
        ["turns.dispatcher.max"],
        "agents is not an object",
    ),
    (
        "turns text",
        _set("agents/driver-chris/turns", "4"),
        ["turns.driver.min"],
        "agents.driver-chris.turns is not a whole number",
    ),
    (
        "no turn_taking",
        lambda r: r.pop("turn_taking"),
        ["max_overlaps", "max_response_gap_p95_s"],
        "the record has no turn_taking",
    ),
    (
        "no p95 gap (one turn)",
        _set("turn_taking/response_gap_s/p95", None),
        ["max_response_gap_p95_s"],
        "the record has no turn_taking.response_gap_s.p95",
    ),
    (
        "gap NaN",
        _set("turn_taking/response_gap_s/p95", float("nan")),
        ["max_response_gap_p95_s"],
        "not a number",
    ),
    ("no end", lambda r: r.pop("ended_at"), ["max_duration_s"], "the record has no ended_at"),
    (
        "end not a time",
        _set("ended_at", "soon"),
        ["max_duration_s"],
        "ended_at is not a timestamp",
    ),
    (
        "end before start",
        _set("ended_at", "2026-05-01T11:59:00+00:00"),
        ["max_duration_s"],
        "ended_at is before started_at",
    ),
    ("no reason", lambda r: r.pop("ended_reason"), ["ended_reason"], "no ended_reason"),
    ("reason number", _set("ended_reason", 3), ["ended_reason"], "ended_reason is not text"),
    (
        "no transcript",
        lambda r: r.pop("transcript"),
        ["transcript.driver.must_match[0]", "transcript.driver.must_not_match[0]"],
        "the record has no transcript",
    ),
    ("no findings", lambda r: r.pop("findings"), ["no_findings_at_or_above"], "no findings"),
    ("findings object", _set("findings", {}), ["no_findings_at_or_above"], "not a list"),
]


@pytest.mark.parametrize(
    ("change", "names", "fragment"),
    [case[1:] for case in MISSING],
    ids=[case[0] for case in MISSING],
)
def test_missing_data_fails_the_contract_that_needs_it_and_says_what_is_missing(
    change: Any, names: list[str], fragment: str
) -> None:
    report = record()
    change(report)
    results = by_name(evaluate(expectations(), report))
    for name in names:
        result = results[name]
        assert not result.passed and result.observed is None, result
        assert "observed nothing (" in result.message and fragment in result.message, result
        assert_one_line(result)


def test_a_transcript_with_no_line_of_the_role_fails_must_match_and_passes_must_not() -> None:
    report = record()
    report["transcript"] = [
        entry for entry in report["transcript"] if entry["identity"] != "driver-chris"
    ]
    results = by_name(evaluate(expectations(), report))
    assert not results["transcript.driver.must_match[0]"].passed
    assert "no match in 0 driver lines" in results["transcript.driver.must_match[0]"].message
    assert results["transcript.driver.must_not_match[0]"].passed


def test_findings_rank_by_check_status_and_unknown_severities_count() -> None:
    report = record()
    report["findings"] = [
        {"check": "a", "severity": "pending", "message": ""},
        {"check": "b", "severity": "info", "message": ""},
        {"name": "c", "status": "warn", "message": ""},
        {"id": "d", "severity": "catastrophic", "message": ""},
        "not an object",
    ]
    at_fail = evaluate(Expectations(no_findings_at_or_above="fail"), report)[0]
    assert at_fail.observed == [
        "d (unknown severity 'catastrophic')",
        "a finding that is not an object",
    ]
    at_pending = evaluate(Expectations(no_findings_at_or_above="pending"), report)[0]
    assert at_pending.observed == [
        "a: pending",
        "c: warn",
        "d (unknown severity 'catastrophic')",
        "a finding that is not an object",
    ]
    assert not at_pending.passed


def test_no_contracts_means_no_results() -> None:
    assert evaluate(None, record()) == []
    assert evaluate(None, {}) == []


def test_timestamps_may_be_epoch_seconds_or_naive_iso() -> None:
    assert call_duration_s({"started_at": 100, "ended_at": 130.5}) == 30.5
    naive = {"started_at": "2026-05-01T12:00:00", "ended_at": "2026-05-01T12:00:10"}
    assert call_duration_s(naive) == 10.0
    assert call_duration_s({"started_at": True, "ended_at": 3}) is None


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
PLACES = st.sampled_from(
    [
        "agents",
        "agents/driver-chris",
        "agents/driver-chris/turns",
        "agents/driver-chris/role",
        "turn_taking",
        "turn_taking/overlaps",
        "turn_taking/response_gap_s",
        "started_at",
        "ended_at",
        "ended_reason",
        "transcript",
        "transcript/3",
        "transcript/3/identity",
        "transcript/3/text",
        "findings",
        "findings/1",
        "findings/1/severity",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PLACES, JSON_VALUES), min_size=1, max_size=3))
def test_any_damage_to_a_record_gives_results_never_an_exception(
    changes: list[tuple[str, object]],
) -> None:
    report = record()
    for path, value in changes:
        try:
            _set(path, value)(report)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier change removed or replaced the parent: nothing to place
    results = evaluate(expectations(), copy.deepcopy(report))
    assert [result.name for result in results] == NAMES
    for result in results:
        assert_one_line(result)
        json.dumps(result.as_dict())


def test_a_call_without_a_record_is_an_error_whatever_the_contracts() -> None:
    scenario = scenario_with(FULL)
    verdict = judge_call(scenario, 2, None, None, "room refused:\nno worker")
    assert verdict == CallVerdict(
        "HDX-2478", scenario.source, 2, None, error="room refused: no worker"
    )
    assert not verdict.passed and verdict.failures == []
    assert not judge_call(scenario, 1, "r.json", None).passed


def test_a_judged_call_keeps_its_figures_and_failures() -> None:
    report = record()
    report["turn_taking"]["overlaps"] = 1
    verdict = judge_call(scenario_with(FULL), 1, "/tmp/calls/x/report.json", report)
    assert (verdict.duration_s, verdict.gap_p95_s) == (40.5, 0.11)
    assert [result.name for result in verdict.failures] == ["max_overlaps"]
    assert not verdict.passed
    assert json.loads(json.dumps(verdict.as_dict()))["expectations"][3]["observed"] == 1
    no_contracts = judge_call(scenario_with(None), 1, "r.json", {})
    assert no_contracts.passed and no_contracts.results == ()


def offline_record(scenario: Scenario) -> dict[str, Any]:
    """What the offline voice's call records: the script spoken line by line, in turn, until
    the worker's own TurnBook says stop. Timings are the bench's (gaps 0.03-0.3 s) and a call
    length well inside the espeak speech time plus the joins (about 32-37 s of speech)."""
    floor = scenario_floor(scenario, offline=True)
    book = TurnBook(first=floor.roles[0], max_turns=scenario.max_turns, floor=floor)
    lines = {role: iter(scenario.lines_for(role)) for role in scenario.roles}
    while (reason := book.stop_reason()) is None:
        role = book.expected_role
        book.record(role, next(lines[role]), now=0.0)
    identity = {persona.role: persona.identity for persona in scenario.agents}
    return {
        "started_at": 0.0,
        "ended_at": 50.0,
        "ended_reason": reason,
        "agents": {
            identity[role]: {"role": role, "turns": sum(t.role == role for t in book.turns)}
            for role in scenario.roles
        },
        "turn_taking": {"response_gap_s": {"p50": 0.05, "p95": 0.3, "max": 0.3}, "overlaps": 0},
        "transcript": [{"identity": identity[t.role], "text": t.text} for t in book.turns],
        "findings": [],
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_contracts_hold_for_the_offline_script(path: Path) -> None:
    scenario = load_scenario(path)
    results = evaluate(scenario.expect, offline_record(scenario))
    assert results and all(result.passed for result in results), [
        result.message for result in results if not result.passed
    ]
