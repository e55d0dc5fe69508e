"""Listed agents get instructions from their persona; pair-form scenarios keep Tim and Chris."""

from __future__ import annotations

from pathlib import Path

from agents.dispatcher_agent import DispatcherAgent
from agents.driver_agent import DriverAgent
from agents.party_agent import PartyAgent, agent_for, opening_instructions, party_instructions
from agents.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_a_pair_form_scenario_keeps_its_two_agents_and_their_opening() -> None:
    scenario = load_scenario(SCENARIOS / "hdx-2478.json")
    assert isinstance(agent_for(scenario, "dispatcher"), DispatcherAgent)
    assert isinstance(agent_for(scenario, "driver"), DriverAgent)
    assert opening_instructions(scenario) == DispatcherAgent(scenario).opening_instructions()


def test_each_listed_agent_knows_who_else_is_on_the_call() -> None:
    scenario = load_scenario(SCENARIOS / "kdc-3107.json")
    rosa = scenario.persona("receiver")
    agent = agent_for(scenario, "receiver")
    assert isinstance(agent, PartyAgent) and agent.persona == rosa
    text = party_instructions(scenario, rosa)
    assert text.startswith("You are Rosa, the receiver, on a phone call with Tim (dispatcher)")
    assert "and Chris (driver)" in text and "KDC-3107" in text
    assert rosa.instructions in text and "Tim opened the call." in text
    assert "You opened the call." in party_instructions(scenario, scenario.persona("dispatcher"))
    assert opening_instructions(scenario) == (
        "Greet Chris and Rosa, say who you are, and bring up load KDC-3107."
    )
