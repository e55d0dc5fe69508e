"""A scenario's agents: the pair form unchanged, the list form of two to six, their script and
turn order, and one line naming the field for every bad agent list."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_from_metadata,
)
from agents.scenario_agents import (
    IDENTITY_PATTERN,
    LISTED_FIELDS,
    RESERVED_ROLES,
    ROLE_PATTERN,
    is_pair,
)

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
HDX = SCENARIO_DIR / "hdx-2478.json"
KDC = SCENARIO_DIR / "kdc-3107.json"


def _kdc(*, contracts: bool = True) -> dict[str, Any]:
    """The bundled three-agent scenario; without its contracts when the test changes the roles
    (they name the roles)."""
    data: dict[str, Any] = json.loads(KDC.read_text(encoding="utf-8"))
    if not contracts:
        del data["expect"]
    return data


def _hdx() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HDX.read_text(encoding="utf-8"))
    return data


def _error(data: object) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "case.json")
    message = str(info.value)
    assert "\n" not in message and message.startswith("case.json: "), message
    return message


def test_the_bundled_three_agent_call() -> None:
    scenario = load_scenario(KDC)
    assert scenario.roles == ("dispatcher", "driver", "receiver")
    assert [p.identity for p in scenario.agents] == [
        "dispatcher-tim",
        "driver-chris",
        "receiver-rosa",
    ]
    assert [p.voice for p in scenario.agents] == ["alloy", "echo", "shimmer"]
    assert scenario.persona("receiver").instructions.startswith("You run the receiving dock")
    assert (
        scenario.lines_for("receiver")[0] == "I can give you a noon door, Chris, or Friday at six."
    )
    assert not is_pair(scenario.agents)


def test_the_pair_form_is_read_and_written_exactly_as_before() -> None:
    scenario = load_scenario(HDX)
    assert scenario.roles == ("dispatcher", "driver")
    assert (scenario.dispatcher.name, scenario.driver.name) == ("Tim", "Chris")
    data = scenario.to_dict()
    # the stored form has the same keys in the same order as before lists of agents existed
    assert list(data) == [
        "load_id",
        "title",
        "dispatcher",
        "driver",
        "pickup",
        "delivery",
        "situation",
        "max_turns",
        "script",
        "expect",
    ]
    assert set(data["driver"]) == {"name", "identity", "voice", "temperature", "model"}


def test_a_listed_dispatcher_and_driver_is_the_pair_form() -> None:
    pair = load_scenario(HDX)
    data = _hdx()
    data["agents"] = [
        {"role": "dispatcher", **data.pop("dispatcher")},
        {"role": "driver", **data.pop("driver")},
    ]
    listed = parse_scenario(data, str(HDX))
    assert listed == pair
    assert listed.to_json() == pair.to_json()


def test_a_list_gets_defaults_by_role_and_place() -> None:
    data = _kdc()
    data["agents"] = [
        {"role": "dispatcher"},
        {"role": "driver"},
        {"role": "receiver", "name": "Rosa", "identity": "receiver-rosa"},
    ]
    scenario = parse_scenario(data)
    assert [p.name for p in scenario.agents] == ["Tim", "Chris", "Rosa"]
    assert [p.voice for p in scenario.agents] == ["alloy", "echo", "shimmer"]
    assert scenario.persona("receiver").temperature == 0.8
    assert scenario.persona("receiver").instructions == ""


@pytest.mark.parametrize("count", [2, 3, 6])
def test_two_to_six_listed_agents_round_trip_through_room_metadata(count: int) -> None:
    data = _kdc(contracts=False)
    data["agents"] = [
        {"role": f"role{i}", "name": f"Agent {i}", "identity": f"agent-{i}"} for i in range(count)
    ]
    data["script"] = [{"speaker": f"role{i % count}", "text": f"Line {i}."} for i in range(9)]
    data["turn_order"] = "round_robin"
    scenario = parse_scenario(data, "case.json")
    assert len(scenario.agents) == count
    again = scenario_from_metadata(scenario.to_json())
    assert again == dataclasses.replace(scenario, source="room metadata")
    assert again.turn_order == "round_robin"


def test_the_generated_script_of_a_list_lets_everyone_speak_and_take_leave() -> None:
    data = _kdc()
    del data["script"]
    scenario = parse_scenario(data)
    lines = scenario.speaking_order()
    assert lines[0].speaker == "dispatcher" and lines[0].text.startswith("Hi Chris and Rosa")
    assert all(a.speaker != b.speaker for a, b in itertools.pairwise(lines))
    for role in scenario.roles:
        assert "Goodbye" in scenario.lines_for(role)[-1]
    assert len(lines) <= scenario.max_turns
    # what the generated script is checked against when given as a script
    data["script"] = [{"speaker": line.speaker, "text": line.text} for line in lines]
    assert parse_scenario(data).script == lines


Mutation = Callable[[dict[str, Any]], None]


def _agent(index: int, **changes: Any) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        data["agents"][index].update(changes)

    return apply


def _set(key: str, value: object) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        data[key] = value

    return apply


def _line(index: int, speaker: object) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        data["script"][index]["speaker"] = speaker

    return apply


def _seven(data: dict[str, Any]) -> None:
    data["agents"] += [
        {"role": f"extra{i}", "name": f"Extra {i}", "identity": f"extra-{i}"} for i in range(4)
    ]


BAD_LISTS: list[tuple[str, Mutation, str]] = [
    ("not a list", _set("agents", {"role": "dispatcher"}), "'agents': expected a list of 2 to 6"),
    (
        "one agent",
        lambda d: d.update(agents=d["agents"][:1]),
        "between 2 and 6 agents, got '1 agent'",
    ),
    ("seven agents", _seven, "between 2 and 6 agents, got '7 agents'"),
    ("agent not an object", _set("agents", ["Tim", "Chris"]), "'agents[0]': expected an object"),
    ("missing role", lambda d: d["agents"][2].pop("role"), "'agents[2].role'"),
    ("role uppercase", _agent(2, role="Receiver"), "'agents[2].role': expected a lowercase"),
    ("role with space", _agent(2, role="dock boss"), "'agents[2].role'"),
    ("role reserved", _agent(2, role="unmatched"), "'agents[2].role': expected a role other"),
    ("same role", _agent(2, role="driver"), "'agents[2].role': expected a role no other"),
    ("same identity", _agent(2, identity="driver-chris"), "'agents[2].identity': expected an"),
    ("same name", _agent(2, name="chris"), "'agents[2].name': expected a name no other"),
    ("no name for a new role", lambda d: d["agents"][2].pop("name"), "'agents[2].name'"),
    ("identity path", _agent(1, identity="../chris"), "'agents[1].identity'"),
    ("temperature", _agent(2, temperature=3), "'agents[2].temperature'"),
    ("typo", _agent(2, voise="shimmer"), "'agents[2].voise': expected no such field"),
    ("escape in instructions", _agent(2, instructions="\x1b[2J"), "'agents[2].instructions'"),
    ("pair next to list", _set("driver", {"name": "Chris"}), "'driver': expected no such"),
    ("speaker not an agent", _line(2, "shipper"), "'script[2].speaker': expected one of"),
    ("second agent opens", _line(0, "driver"), "'script[0].speaker': expected 'dispatcher'"),
    ("same speaker twice", _line(3, "receiver"), "'script[3].speaker': expected a speaker other"),
    ("turn order", _set("turn_order", "random"), "'turn_order': expected one of 'addressed'"),
]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [(m, f) for _, m, f in BAD_LISTS],
    ids=[name for name, _, _ in BAD_LISTS],
)
def test_a_bad_agent_list_gives_one_line_naming_the_field(mutate: Mutation, fragment: str) -> None:
    data = copy.deepcopy(_kdc())
    mutate(data)
    assert fragment in _error(data)


# --- property tests ----------------------------------------------------------------------------


def clean_text(max_size: int) -> st.SearchStrategy[str]:
    """Text the loader keeps as is: printable (newlines allowed), not blank, no outer spaces."""
    return (
        st.text(
            st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co")) | st.just("\n"),
            min_size=1,
            max_size=max_size,
        )
        .map(str.strip)
        .filter(bool)
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=15,
)


@st.composite
def valid_agent_lists(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scenario of the list form, with a script following its rules or none."""
    count = draw(st.integers(2, 6))

    def distinct(items: st.SearchStrategy[str]) -> list[str]:
        return draw(st.lists(items, min_size=count, max_size=count, unique_by=str.casefold))

    roles = distinct(
        st.from_regex(ROLE_PATTERN, fullmatch=True).filter(lambda r: r not in RESERVED_ROLES)
    )
    identities = distinct(st.from_regex(IDENTITY_PATTERN, fullmatch=True))
    names = distinct(clean_text(64))
    agents = [
        {"role": role, "name": name, "identity": identity}
        | ({"instructions": draw(clean_text(80))} if draw(st.booleans()) else {})
        for role, name, identity in zip(roles, names, identities, strict=True)
    ]
    data = _kdc(contracts=False)
    data.update(agents=agents, turn_order=draw(st.sampled_from(["addressed", "round_robin"])))
    data.pop("script")
    if draw(st.booleans()):
        speakers = [roles[0]]
        for _ in range(draw(st.integers(0, 8))):
            speakers.append(draw(st.sampled_from([r for r in roles if r != speakers[-1]])))
        data["script"] = [{"speaker": r, "text": draw(clean_text(40))} for r in speakers]
    return data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_agent_lists())
def test_valid_agent_lists_round_trip_through_room_metadata(data: dict[str, Any]) -> None:
    scenario = parse_scenario(data, "prop")
    assert len(scenario.agents) == len(data["agents"])
    again = scenario_from_metadata(scenario.to_json())
    assert dataclasses.replace(again, source=scenario.source) == scenario


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(sorted(LISTED_FIELDS)) | st.text(max_size=8)),
        min_size=1,
        max_size=3,
    ),
    st.lists(JSON_VALUES, min_size=3, max_size=3),
)
def test_a_listed_agent_with_any_field_replaced_never_raises_anything_else(
    changes: list[tuple[int, str]], values: list[object]
) -> None:
    data = _kdc(contracts=False)
    for (index, key), value in zip(changes, values, strict=False):
        data["agents"][index][key] = value
    try:
        scenario = parse_scenario(data, "prop")
    except ScenarioError as error:
        assert str(error).isprintable(), repr(str(error))
        return
    assert scenario_from_metadata(scenario.to_json()) == dataclasses.replace(
        scenario, source="room metadata"
    )
