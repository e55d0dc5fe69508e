"""The floor moderator's rule: who speaks next, with two to six agents."""

from __future__ import annotations

import itertools

import pytest
from helpers import PROJECT

from agents.floor import Floor, scenario_floor
from agents.scenario import load_scenario

ROLES = ("dispatcher", "driver", "receiver")
NAMES = ("Tim", "Chris", "Rosa")


def test_the_first_party_opens() -> None:
    assert Floor(ROLES, NAMES).next_role([]) == "dispatcher"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rosa, can you take it at noon?", "receiver"),
        ("Thanks Chris. Rosa, can you take it at noon?", "receiver"),  # the last naming sentence
        ("Chris, can you check that with Rosa?", "driver"),  # its first name
        ("Rosa can take it. Good.", "receiver"),  # a later sentence without a name
        ("ROSA? Are you there?", "receiver"),  # any case
        ("It is Christmas, Tim here.", "driver"),  # no whole name: the next in the list
        ("Tim here, no one named.", "driver"),  # the speaker's own name does not count
    ],
)
def test_the_agent_addressed_in_the_last_line_speaks_next(text: str, expected: str) -> None:
    assert Floor(ROLES, NAMES).next_role([("dispatcher", text)]) == expected


def test_round_robin_ignores_names_and_wraps_around() -> None:
    floor = Floor(ROLES, NAMES, order="round_robin")
    assert floor.next_role([("dispatcher", "Rosa, go ahead.")]) == "driver"
    assert floor.next_role([("receiver", "Chris, go ahead.")]) == "dispatcher"


def test_the_script_order_comes_first_then_the_rule() -> None:
    script = ("dispatcher", "receiver", "driver")
    floor = Floor(ROLES, NAMES, script=script)
    said: list[tuple[str, str]] = []
    for role in script:
        assert floor.next_role(said) == role
        said.append((role, "Chris, over to you."))  # the script wins over the name
    # past the script's end: the next in the list (Chris named himself), else the named agent
    assert floor.next_role(said) == "receiver"
    said.append(("receiver", "Chris, your turn."))
    assert floor.next_role(said) == "driver"


@pytest.mark.parametrize("order", ["addressed", "round_robin"])
def test_two_parties_always_alternate(order: str) -> None:
    floor = Floor(("dispatcher", "driver"), ("Tim", "Chris"), order=order)  # type: ignore[arg-type]
    said: list[tuple[str, str]] = []
    texts = ["Hi Chris.", "Tim, hi. Tim!", "Chris?", "Nobody named.", "Hi Tim, Chris here."]
    for text, expected in zip(texts, itertools.cycle(["dispatcher", "driver"]), strict=False):
        assert floor.next_role(said) == expected
        said.append((expected, text))


def test_a_floor_without_names_passes_in_list_order() -> None:
    floor = Floor(ROLES)
    assert floor.next_role([("driver", "Rosa, go ahead.")]) == "receiver"
    assert floor.next_role([("receiver", "Chris, go ahead.")]) == "dispatcher"


@pytest.mark.parametrize(
    ("roles", "names", "script"),
    [
        (("dispatcher",), (), ()),
        (("dispatcher", "dispatcher"), (), ()),
        (ROLES, ("Tim",), ()),
        (ROLES, NAMES, ("dispatcher", "shipper")),
    ],
)
def test_an_impossible_floor_is_refused(
    roles: tuple[str, ...], names: tuple[str, ...], script: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        Floor(roles, names, script=script)


def test_a_scenarios_floor_follows_its_script_only_offline() -> None:
    scenario = load_scenario(PROJECT / "scenarios" / "kdc-3107.json")
    offline = scenario_floor(scenario, offline=True)
    assert offline.roles == ("dispatcher", "driver", "receiver")
    assert offline.names == ("Tim", "Chris", "Rosa")
    assert offline.script == tuple(line.speaker for line in scenario.script)
    assert scenario_floor(scenario, offline=False).script == ()
