"""Role matching: the scenario's agents, the guide's keywords, --match patterns."""

from __future__ import annotations

import json

import pytest

from agents.bundled import bundled_scenarios_dir
from agents.scenario import load_scenario
from tui.core.roles import (
    DEFAULT_AGENTS,
    DEFAULT_RULES,
    ExpectedAgent,
    RoleRules,
    agents_from_metadata,
    parse_match,
)

KDC = bundled_scenarios_dir() / "kdc-3107.json"
THREE = (
    ExpectedAgent("dispatcher", "Tim", "dispatcher-tim"),
    ExpectedAgent("driver", "Chris", "driver-chris"),
    ExpectedAgent("receiver", "Rosa", "receiver-rosa"),
)


def test_scenario_metadata_gives_the_expected_agents() -> None:
    metadata = load_scenario(KDC).to_json()
    assert agents_from_metadata(metadata) == THREE


@pytest.mark.parametrize("metadata", ["", "not json", json.dumps({"load_id": "X"})])
def test_a_room_without_a_scenario_expects_nothing_of_its_own(metadata: str) -> None:
    assert agents_from_metadata(metadata) is None


def test_defaults_are_the_guides_pair_and_keywords() -> None:
    assert DEFAULT_RULES.agents == DEFAULT_AGENTS
    assert DEFAULT_RULES.roles == ("dispatcher", "driver")
    assert DEFAULT_RULES.classify("agent-tim-7", "", "agent", {}).role == "dispatcher"
    assert DEFAULT_RULES.classify("x", "Chris", "agent", {}).role == "driver"
    assert DEFAULT_RULES.classify("receiver-rosa", "Rosa", "agent", {}).role == "unmatched"


def test_a_scenario_identity_or_role_attribute_gives_its_role() -> None:
    rules = RoleRules(THREE)
    by_identity = rules.classify("receiver-rosa", "", "agent", {})
    assert by_identity.role == "receiver" and "receiver-rosa" in by_identity.reason
    assert rules.classify("agent_9", "", "agent", {"dispatch.role": "receiver"}).role == "receiver"
    # the keywords still hold for the dispatcher and the driver
    assert rules.classify("agent_1", "Tim", "agent", {}).role == "dispatcher"
    assert rules.label("receiver") == "Rosa" and rules.label("driver") == "Chris"


def test_an_agent_matching_nothing_is_unmatched_with_every_filter_named() -> None:
    result = RoleRules(THREE).classify("agent_abc123", "Bob", "agent", {})
    assert result.role == "unmatched"
    assert "matches no role filter" not in result.reason  # two names given: "match"
    assert "match no role filter (dispatcher|tim, driver|chris, receiver-rosa)" in result.reason


def test_an_unknown_role_attribute_names_every_role() -> None:
    result = RoleRules(THREE).classify("agent_1", "", "agent", {"dispatch.role": "pilot"})
    assert result.role == "unmatched"
    assert "'pilot' is none of dispatcher, driver, receiver" in result.reason


def test_a_scenario_driver_with_another_name_is_named_for_itself() -> None:
    dwayne = (
        ExpectedAgent("dispatcher", "Tim", "dispatcher-tim"),
        ExpectedAgent("driver", "Dwayne", "hauler-dw"),
    )
    rules = RoleRules(dwayne)
    assert rules.classify("hauler-dw", "Dwayne", "agent", {}).role == "driver"
    assert rules.label("driver") == "Dwayne"


def test_match_patterns_add_to_the_filters() -> None:
    rules = RoleRules(THREE, [parse_match("receiver=^dock-"), parse_match("yard=spotter")])
    result = rules.classify("dock-7", "", "agent", {})
    assert result.role == "receiver" and "/^dock-/" in result.reason
    assert rules.classify("x", "Yard Spotter", "agent", {}).role == "yard"
    assert rules.expected_roles == ("dispatcher", "driver", "receiver")
    assert rules.roles == ("dispatcher", "driver", "receiver", "yard")
    assert "identity/name matching /^dock-/" in rules.rule_text("receiver")


def test_non_agents_never_take_a_role_by_name() -> None:
    rules = RoleRules(THREE, [parse_match("receiver=rosa")])
    assert rules.classify("rosa-listening", "Rosa", "standard", {}).role == "standard"
    declared = rules.classify("phone", "", "sip", {"dispatch.role": "receiver"})
    assert declared.role == "receiver"


@pytest.mark.parametrize("text", ["receiver", "=x", "receiver=", "a=(", "standard=x"])
def test_parse_match_refuses_bad_input_in_one_line(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_match(text)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"--match {text!r}")


def test_parse_match_is_case_insensitive() -> None:
    match = parse_match(" Receiver =ROSA")
    assert match.role == "receiver" and match.pattern.search("receiver-rosa")
