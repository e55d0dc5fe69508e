"""Which scenario a call plays: dispatch metadata, else room metadata, else the bundled default."""

from __future__ import annotations

import logging

from agents.bundled import default_scenario_file
from agents.scenario import Scenario, ScenarioError, load_scenario, parse_scenario_json

logger = logging.getLogger("multi_agent_worker")


def default_scenario() -> Scenario:
    """The bundled ``scenarios/hdx-2478.json`` (the one source of the default scenario)."""
    return load_scenario(default_scenario_file())


def scenario_for_job(job_metadata: str, room_metadata: str) -> Scenario:
    """The scenario from dispatch metadata, else room metadata, else the default."""
    for source, text in (("dispatch metadata", job_metadata), ("room metadata", room_metadata)):
        if text and text.strip():
            try:
                return parse_scenario_json(text, source)
            except ScenarioError as exc:
                logger.warning("%s; trying the next source", exc)
    return default_scenario()
