"""Find scenario files for the picker, keeping invalid ones visible with their error."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agents.bundled import bundled_scenarios_dir
from agents.scenario import Scenario, ScenarioError, load_scenario

BUILTIN_SCENARIOS = bundled_scenarios_dir()
"""The scenarios shipped with the package (``scenarios/`` in a checkout)."""


@dataclass(frozen=True)
class CatalogEntry:
    """One scenario file: either loaded, or the one-line reason it cannot be used."""

    path: Path
    scenario: Scenario | None
    error: str | None = None

    @property
    def label(self) -> str:
        if self.scenario is None:
            return f"{self.path.name}: {self.error}"
        return f"{self.scenario.load_id}  {self.scenario.title}"


def scenario_files(directories: Iterable[Path]) -> list[Path]:
    """JSON files in the given directories, sorted, without duplicates."""
    seen: dict[Path, None] = {}
    for directory in directories:
        if directory.is_dir():
            for path in sorted(directory.glob("*.json")):
                seen.setdefault(path.resolve(), None)
    return list(seen)


def load_catalog(directories: Iterable[Path]) -> list[CatalogEntry]:
    """Load every scenario file; a bad file becomes an entry with its error, not a crash."""
    entries = []
    for path in scenario_files(directories):
        try:
            entries.append(CatalogEntry(path, load_scenario(path)))
        except ScenarioError as exc:
            entries.append(CatalogEntry(path, None, str(exc).split(": ", 1)[-1]))
    return entries
