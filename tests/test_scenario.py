"""The scenario model: shipped files load, bad files fail with one line naming file and field."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.scenario import (
    MAX_FILE_BYTES,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario_json,
    scenario_from_metadata,
)

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SHIPPED = sorted(SCENARIO_DIR.glob("*.json"))
HDX = SCENARIO_DIR / "hdx-2478.json"


def _hdx_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HDX.read_text(encoding="utf-8"))
    return data


def _write(tmp_path: Path, data: object, name: str = "case.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _error_for(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message, message
    return message


# --- shipped scenarios -------------------------------------------------------------------------


def test_three_scenarios_are_shipped_and_one_has_no_script() -> None:
    assert len(SHIPPED) >= 3
    scenarios = [load_scenario(path) for path in SHIPPED]
    assert len({s.load_id for s in scenarios}) == len(scenarios), "load ids must differ"
    assert any(not s.script for s in scenarios), "one scenario must use the generated script"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_loads_and_matches_its_file_name(path: Path) -> None:
    scenario = load_scenario(path)
    assert path.stem == scenario.load_id.lower()
    assert scenario.source == str(path)
    for role in ("dispatcher", "driver"):
        lines = scenario.lines_for(role)
        assert lines and all(line.strip() for line in lines)


def test_hdx_2478_is_the_tim_and_chris_call_with_eight_short_lines() -> None:
    scenario = load_scenario(HDX)
    assert scenario.load_id == "HDX-2478"
    assert (scenario.dispatcher.name, scenario.driver.name) == ("Tim", "Chris")
    assert scenario.max_turns == 8
    assert scenario.pickup.time and scenario.delivery.time
    speakers = [line.speaker for line in scenario.script]
    assert speakers == ["dispatcher", "driver"] * 4
    for line in scenario.script:
        sentences = [s for s in re.split(r"[.!?]+", line.text) if s.strip()]
        assert 1 <= len(sentences) <= 2 and len(line.text) <= 120, line.text
    for line in scenario.script[-2:]:
        assert "bye" in line.text.lower(), line.text
    assert all("bye" not in line.text.lower() for line in scenario.script[:-2])


# --- round trip --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_to_json_round_trips_through_room_metadata(path: Path) -> None:
    scenario = load_scenario(path)
    again = scenario_from_metadata(scenario.to_json())
    assert again == dataclasses.replace(scenario, source="room metadata")
    assert again.to_json() == scenario.to_json()


def test_an_observer_wait_survives_the_round_trip_and_defaults_to_none(tmp_path: Path) -> None:
    assert load_scenario(HDX).observer_wait_s == 0
    assert "observer_wait_s" not in load_scenario(HDX).to_json()
    data = _hdx_data()
    data["observer_wait_s"] = 2.5
    scenario = load_scenario(_write(tmp_path, data))
    assert scenario.observer_wait_s == 2.5
    assert scenario_from_metadata(scenario.to_json()).observer_wait_s == 2.5


def test_generated_script_is_used_when_none_is_given(tmp_path: Path) -> None:
    data = _hdx_data()
    del data["script"]
    scenario = load_scenario(_write(tmp_path, data))
    assert scenario.script == ()
    assert scenario.lines_for("dispatcher")[0].startswith("Hi Chris, this is Tim")
    assert scenario_from_metadata(scenario.to_json()).script == ()


def test_optional_fields_left_out_survive_the_round_trip(tmp_path: Path) -> None:
    data = _hdx_data()
    del data["script"], data["title"], data["max_turns"], data["dispatcher"]
    data["pickup"] = "Salinas, CA"  # a bare string is a location without a time
    del data["delivery"]["time"]
    scenario = load_scenario(_write(tmp_path, data))
    assert (scenario.pickup.time, scenario.delivery.time) == ("", "")
    again = scenario_from_metadata(scenario.to_json())
    assert again == dataclasses.replace(scenario, source="room metadata")


def test_empty_metadata_names_the_fix() -> None:
    with pytest.raises(ScenarioError, match="create-room"):
        scenario_from_metadata("")


def test_markup_in_names_is_kept_as_plain_text(tmp_path: Path) -> None:
    data = _hdx_data()
    data["dispatcher"]["name"] = "[bold]x[/]"
    data["title"] = "[red]Hot load[/red] <b>now</b>"
    scenario = load_scenario(_write(tmp_path, data))
    assert scenario.dispatcher.name == "[bold]x[/]"
    assert scenario.title == "[red]Hot load[/red] <b>now</b>"


# --- bad input ---------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: object) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def _delete(path: str) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[key]
        del target[last]

    return apply


BAD_FIELDS: list[tuple[str, Mutation, str]] = [
    ("missing load_id", _delete("load_id"), "'load_id'"),
    ("missing situation", _delete("situation"), "'situation'"),
    ("missing pickup", _delete("pickup"), "'pickup'"),
    ("missing delivery location", _delete("delivery.location"), "'delivery.location'"),
    ("load id path", _set("load_id", "../etc"), "'load_id'"),
    ("load id slash", _set("load_id", "HDX/2478"), "'load_id'"),
    ("load id lowercase", _set("load_id", "hdx-2478"), "'load_id'"),
    ("load id number", _set("load_id", 2478), "'load_id'"),
    ("max_turns string", _set("max_turns", "8"), "'max_turns'"),
    ("max_turns bool", _set("max_turns", True), "'max_turns'"),
    ("max_turns float", _set("max_turns", 8.5), "'max_turns'"),
    ("max_turns too many", _set("max_turns", 1000), "'max_turns'"),
    ("observer wait negative", _set("observer_wait_s", -1), "'observer_wait_s'"),
    ("observer wait too long", _set("observer_wait_s", 61), "'observer_wait_s'"),
    ("observer wait string", _set("observer_wait_s", "10"), "'observer_wait_s'"),
    ("observer wait bool", _set("observer_wait_s", True), "'observer_wait_s'"),
    ("dispatcher list", _set("dispatcher", ["Tim"]), "'dispatcher'"),
    ("driver null", _set("driver", None), "'driver'"),
    ("temperature string", _set("driver.temperature", "hot"), "'driver.temperature'"),
    ("temperature range", _set("dispatcher.temperature", 2.0), "'dispatcher.temperature'"),
    ("identity path", _set("driver.identity", "../chris"), "'driver.identity'"),
    ("same identities", _set("driver.identity", "dispatcher-tim"), "'driver.identity'"),
    ("pickup number", _set("pickup", 7), "'pickup'"),
    ("script object", _set("script", {"speaker": "dispatcher"}), "'script'"),
    ("script empty", _set("script", []), "'script'"),
    ("script order", _set("script.0.speaker", "driver"), "'script[0].speaker'"),
    ("script speaker", _set("script.1.speaker", "boss"), "'script[1].speaker'"),
    ("script text", _set("script.2.text", ""), "'script[2].text'"),
    ("unknown top field", _set("lod_id", "HDX-1"), "'lod_id'"),
    ("unknown persona field", _set("driver.colour", "red"), "'driver.colour'"),
    ("escape in name", _set("dispatcher.name", "Tim\x1b[31m"), "'dispatcher.name'"),
    ("nul in situation", _set("situation", "late\x00"), "'situation'"),
    ("bidi override", _set("title", "evil\u202etxt"), "'title'"),
    ("carriage return", _set("driver.name", "Chris\rX"), "'driver.name'"),
    ("tab in script", _set("script.3.text", "a\tb"), "'script[3].text'"),
    ("huge situation", _set("situation", "x" * 5000), "'situation'"),
]


@pytest.mark.parametrize(
    ("mutate", "field_name"),
    [(m, f) for _, m, f in BAD_FIELDS],
    ids=[name for name, _, _ in BAD_FIELDS],
)
def test_bad_field_gives_one_line_naming_file_and_field(
    tmp_path: Path, mutate: Mutation, field_name: str
) -> None:
    data = copy.deepcopy(_hdx_data())
    mutate(data)
    message = _error_for(_write(tmp_path, data))
    assert f"field {field_name}" in message, message


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    message = _error_for(_write(tmp_path, ["HDX-2478"]))
    assert "(top level)" in message


def test_malformed_json_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"load_id": "HDX-1",,}', encoding="utf-8")
    assert "invalid JSON at line 1 column" in _error_for(path)


def test_truncated_file_is_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    text = HDX.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    assert "invalid JSON" in _error_for(path)


def test_empty_file_is_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    assert "invalid JSON" in _error_for(path)


def test_non_utf8_file_asks_for_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"load_id": "HDX-1", "title": "Café"}'.encode("latin-1"))
    assert "not UTF-8" in _error_for(path)


def test_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    assert f"at most {MAX_FILE_BYTES}" in _error_for(path)


def test_text_over_the_limit_is_refused() -> None:
    with pytest.raises(ScenarioError, match="at most"):
        parse_scenario_json(" " * (MAX_FILE_BYTES + 1), "body")


def test_deeply_nested_json_is_a_scenario_error() -> None:
    # 100k nested lists fit in the size limit and blow Python's recursion limit in json.
    text = "[" * 100_000 + "]" * 100_000
    assert len(text) <= MAX_FILE_BYTES
    with pytest.raises(ScenarioError, match="nested"):
        parse_scenario_json(text, "body")


def test_missing_file_and_directory_name_the_fix(tmp_path: Path) -> None:
    assert "no such file" in _error_for(tmp_path / "nope.json")
    assert "is a directory" in _error_for(tmp_path)


def test_scenario_is_immutable() -> None:
    scenario: Scenario = load_scenario(HDX)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.load_id = "X"  # type: ignore[misc]
