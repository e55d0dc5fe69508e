"""Where the bundled scenarios are: the one copy of ``scenarios/`` shipped with the package.

In a checkout (editable install included) that is the top-level ``scenarios/`` folder; a wheel
carries a copy as ``agents/scenarios`` (``setup.py`` copies it at build time), found through
:mod:`importlib.resources`.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Final

DEFAULT_SCENARIO_NAME: Final = "hdx-2478.json"
"""The scenario a job runs when neither its dispatch nor its room carries one."""


def bundled_scenarios_dir() -> Path:
    """The folder of bundled scenario files (installed copy first, else the checkout's)."""
    installed = Path(str(importlib.resources.files("agents") / "scenarios"))
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "scenarios"


def default_scenario_file() -> Path:
    """The bundled ``hdx-2478.json``."""
    return bundled_scenarios_dir() / DEFAULT_SCENARIO_NAME
