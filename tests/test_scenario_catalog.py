from __future__ import annotations

import json
from pathlib import Path

from tui.core.scenario_catalog import BUILTIN_SCENARIOS, load_catalog, scenario_files

VALID = {
    "load_id": "ABC-1",
    "pickup": {"location": "Reno, NV"},
    "delivery": {"location": "Boise, ID"},
    "situation": "The trailer needs a new seal.",
}


def test_bad_files_are_listed_with_their_error(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps(VALID))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "notes.txt").write_text("ignored")
    entries = load_catalog([tmp_path])
    by_name = {entry.path.name: entry for entry in entries}
    assert set(by_name) == {"good.json", "broken.json"}
    assert by_name["good.json"].scenario is not None
    assert by_name["good.json"].label.startswith("ABC-1")
    assert by_name["broken.json"].scenario is None
    assert "invalid JSON" in (by_name["broken.json"].error or "")


def test_directories_are_merged_without_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(VALID))
    assert len(scenario_files([tmp_path, tmp_path])) == 1
    assert scenario_files([tmp_path / "missing"]) == []


def test_shipped_scenarios_are_all_valid() -> None:
    entries = load_catalog([BUILTIN_SCENARIOS])
    assert len(entries) >= 3
    assert all(entry.scenario is not None for entry in entries), [e.error for e in entries]
    assert "HDX-2478" in {entry.scenario.load_id for entry in entries if entry.scenario}
