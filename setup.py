"""Build hook: ship the top-level ``scenarios/`` folder (the one source) as ``agents/scenarios``.

Everything else is declared in pyproject.toml. A checkout reads ``scenarios/`` directly
(``agents.bundled``); a non-editable install gets this copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


class BuildPyWithScenarios(build_py):
    """``build_py`` plus a copy of ``scenarios/*.json`` into the built ``agents`` package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "agents" / "scenarios"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(SCENARIOS.glob("*.json")):
            shutil.copy2(source, target / source.name)


setup(cmdclass={"build_py": BuildPyWithScenarios})
