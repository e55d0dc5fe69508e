"""Contracts in a scenario: the ``expect`` object is parsed, compiled and refused like the rest
of the scenario, in one line naming the field and the fix."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from helpers import PROJECT
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.scenario import ScenarioError, load_scenario, parse_scenario, scenario_from_metadata
from agents.scenario_expect import (
    END_REASONS,
    MAX_PATTERN_CHARS,
    SEVERITIES,
    Expectations,
    TranscriptRules,
    TurnBounds,
)
from agents.turn_relay import StopReason
from tui.core.diagnostics.check import STATUS_ORDER

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


def _with_expect(expect: object) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HDX.read_text(encoding="utf-8"))
    data["expect"] = copy.deepcopy(expect)
    return data


def _error(expect: object) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(_with_expect(expect), "case.json")
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message and message.isprintable(), repr(message)
    assert message.startswith("case.json: "), message
    return message


def test_the_full_example_parses_to_the_model() -> None:
    expect = parse_scenario(_with_expect(FULL), "case.json").expect
    assert expect is not None
    assert expect.turns == (TurnBounds("dispatcher", 2, 6), TurnBounds("driver", 2, None))
    assert (expect.max_overlaps, expect.max_response_gap_p95_s, expect.max_duration_s) == (
        0,
        2.0,
        90.0,
    )
    assert expect.ended_reason == ("goodbye", "max_turns")
    (rules,) = expect.transcript
    assert rules.role == "driver"
    assert rules.must_match[0].search("Got it, 34 continuous")
    assert rules.must_not_match[0].search("SORRY about that")
    assert expect.no_findings_at_or_above == "fail"


def test_a_scenario_without_expect_has_none_and_null_means_none() -> None:
    data = _with_expect(None)
    assert parse_scenario(data).expect is None
    del data["expect"]
    scenario = parse_scenario(data)
    assert scenario.expect is None and "expect" not in scenario.to_dict()


def test_contracts_survive_room_metadata_and_write_their_source_form() -> None:
    scenario = parse_scenario(_with_expect(FULL), "case.json")
    again = scenario_from_metadata(scenario.to_json())
    assert again == dataclasses.replace(scenario, source="room metadata")
    assert scenario.to_dict()["expect"] == {**FULL, "max_duration_s": 90.0}


def test_a_single_string_is_a_list_of_one_and_duplicates_collapse() -> None:
    expect = parse_scenario(
        _with_expect(
            {
                "ended_reason": ["goodbye", "goodbye"],
                "transcript": {"dispatcher": {"must_match": "Kroger"}},
            }
        )
    ).expect
    assert expect == Expectations(
        ended_reason=("goodbye",),
        transcript=(TranscriptRules("dispatcher", must_match=(re.compile("Kroger"),)),),
    )


BAD: list[tuple[str, object, str]] = [
    ("not an object", ["turns"], "field 'expect': expected an object of contracts"),
    ("empty", {}, "field 'expect': expected an object of contracts such as 'turns'"),
    ("unknown field", {"max_overlap": 0}, "field 'expect.max_overlap': expected no such field"),
    ("unknown role", {"turns": {"boss": {"min": 1}}}, "'expect.turns.boss': expected a role"),
    ("role in capitals", {"turns": {"Driver": {"min": 1}}}, "'expect.turns.Driver'"),
    ("turns empty role", {"turns": {"driver": {}}}, "'expect.turns.driver': expected an object"),
    ("turns as list", {"turns": [1, 2]}, "'expect.turns': expected an object"),
    ("turns unknown bound", {"turns": {"driver": {"least": 1}}}, "'expect.turns.driver.least'"),
    ("turns min text", {"turns": {"driver": {"min": "2"}}}, "'expect.turns.driver.min'"),
    ("turns min bool", {"turns": {"driver": {"min": True}}}, "'expect.turns.driver.min'"),
    ("turns min float", {"turns": {"driver": {"min": 2.5}}}, "'expect.turns.driver.min'"),
    ("turns negative", {"turns": {"driver": {"max": -1}}}, "'expect.turns.driver.max'"),
    ("turns over max_turns", {"turns": {"driver": {"min": 9}}}, "between 0 and 8, got"),
    ("turns min over max", {"turns": {"driver": {"min": 4, "max": 2}}}, "at most expect.turns"),
    ("overlaps negative", {"max_overlaps": -1}, "'expect.max_overlaps': expected a whole"),
    ("overlaps float", {"max_overlaps": 0.5}, "'expect.max_overlaps'"),
    ("gap zero", {"max_response_gap_p95_s": 0}, "'expect.max_response_gap_p95_s': expected sec"),
    ("gap text", {"max_response_gap_p95_s": "2s"}, "'expect.max_response_gap_p95_s'"),
    ("gap bool", {"max_response_gap_p95_s": True}, "'expect.max_response_gap_p95_s'"),
    ("duration huge", {"max_duration_s": 10**400}, "'expect.max_duration_s'"),
    ("duration NaN", {"max_duration_s": float("nan")}, "'expect.max_duration_s'"),
    ("duration infinite", {"max_duration_s": float("inf")}, "'expect.max_duration_s'"),
    ("reason unknown", {"ended_reason": "bye"}, "'expect.ended_reason': expected one of goodbye"),
    ("reason in list", {"ended_reason": ["goodbye", "hangup"]}, "'expect.ended_reason[1]'"),
    ("reason number", {"ended_reason": [7]}, "'expect.ended_reason[0]': expected a string"),
    ("reason empty list", {"ended_reason": []}, "'expect.ended_reason': expected a string or"),
    ("severity ok", {"no_findings_at_or_above": "ok"}, "expected one of pending, warn, fail"),
    ("severity caps", {"no_findings_at_or_above": "FAIL"}, "'expect.no_findings_at_or_above'"),
    ("transcript role", {"transcript": {"boss": {"must_match": "x"}}}, "'expect.transcript.boss'"),
    (
        "transcript typo",
        {"transcript": {"driver": {"must_matches": ["x"]}}},
        "'expect.transcript.driver.must_matches': expected no such field",
    ),
    (
        "bad regex",
        {"transcript": {"driver": {"must_match": ["ok", "(34"]}}},
        "'expect.transcript.driver.must_match[1]': expected a valid regular expression (missing )",
    ),
    (
        "bad regex repeat",
        {"transcript": {"driver": {"must_not_match": ["*sorry"]}}},
        "'expect.transcript.driver.must_not_match[0]': expected a valid regular expression",
    ),
    (
        "empty pattern",
        {"transcript": {"driver": {"must_match": [""]}}},
        "'expect.transcript.driver.must_match[0]': expected a pattern of 1 to",
    ),
    (
        "long pattern",
        {"transcript": {"driver": {"must_match": ["x" * (MAX_PATTERN_CHARS + 1)]}}},
        f"got '{MAX_PATTERN_CHARS + 1} characters'",
    ),
    (
        "control character",
        {"transcript": {"driver": {"must_match": ["34\x1b[2J"]}}},
        "expected a pattern without control characters",
    ),
    (
        "too many patterns",
        {"transcript": {"driver": {"must_match": ["x"] * 17}}},
        "'expect.transcript.driver.must_match': expected a string or a list of 1 to 16",
    ),
    ("only nulls", {"max_overlaps": None}, "'expect': expected an object of contracts such as"),
    (
        "turn bounds only null",
        {"turns": {"driver": {"min": None}}},
        "'expect.turns.driver': expected 'min' and/or 'max' turn counts, not only nulls",
    ),
    (
        "patterns only null",
        {"transcript": {"driver": {"must_match": None}}},
        "'expect.transcript.driver': expected 'must_match' and/or 'must_not_match'",
    ),
    (
        "escape in a role",
        {"turns": {"dri\x1bver": {"min": 1}}},
        "'expect.turns.dri\\x1bver'",
    ),
]


@pytest.mark.parametrize(("expect", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_contracts_are_refused_in_one_line_naming_the_field(
    expect: object, fragment: str
) -> None:
    message = _error(expect)
    assert fragment in message, message


def test_a_bad_contract_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_with_expect({"turns": {"boss": {"min": 1}}})), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.json: field 'expect\.turns\.boss'"):
        load_scenario(path)


def test_turn_bounds_follow_the_scenarios_max_turns() -> None:
    data = _with_expect({"turns": {"driver": {"min": 10}}})
    data["max_turns"] = 10
    assert parse_scenario(data).expect == Expectations(turns=(TurnBounds("driver", 10),))


def test_end_reasons_are_the_ones_the_worker_reports() -> None:
    assert set(END_REASONS) == set(typing.get_args(StopReason))


def test_severities_are_the_check_statuses_above_ok_mildest_first() -> None:
    above_ok = sorted((s for s in STATUS_ORDER if s != "ok"), key=STATUS_ORDER.__getitem__)
    assert list(SEVERITIES) == above_ok


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_carries_contracts(path: Path) -> None:
    scenario = load_scenario(path)
    expect = scenario.expect
    assert expect is not None
    assert {bounds.role for bounds in expect.turns} == set(scenario.roles)
    assert expect.max_duration_s and expect.ended_reason and expect.transcript


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Where a random value goes: a top-level contract, or one level inside a role's section.
PLACES = st.sampled_from(
    [
        ("turns",),
        ("turns", "dispatcher"),
        ("turns", "driver", "min"),
        ("turns", "driver", "max"),
        ("max_overlaps",),
        ("max_response_gap_p95_s",),
        ("max_duration_s",),
        ("ended_reason",),
        ("transcript",),
        ("transcript", "driver"),
        ("transcript", "driver", "must_match"),
        ("transcript", "driver", "must_not_match"),
        ("no_findings_at_or_above",),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PLACES, JSON_VALUES), min_size=1, max_size=3))
def test_any_value_anywhere_in_the_contracts_is_parsed_or_refused_in_one_line(
    changes: list[tuple[tuple[str, ...], object]],
) -> None:
    expect = copy.deepcopy(FULL)
    for place, value in changes:
        target: Any = expect
        for key in place[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[place[-1]] = value
    try:
        scenario = parse_scenario(_with_expect(expect), "prop")
    except ScenarioError as error:
        message = str(error)
        assert "\n" not in message and message.isprintable(), repr(message)
        return
    again = scenario_from_metadata(scenario.to_json())
    assert again == dataclasses.replace(scenario, source="room metadata")
