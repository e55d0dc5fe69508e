"""Any agent of a call other than the pair form's Tim and Chris: instructions from its persona.

A pair-form scenario keeps its own two agents (:mod:`agents.dispatcher_agent`,
:mod:`agents.driver_agent`); a scenario listing its agents gets one :class:`PartyAgent` each,
told who else is on the call, what the call is about and how the floor passes (by name).
"""

from __future__ import annotations

from livekit.agents import Agent

from agents.dispatcher_agent import DispatcherAgent
from agents.driver_agent import DriverAgent
from agents.scenario import Persona, Role, Scenario
from agents.scenario_agents import is_pair, spoken_list


def party_instructions(scenario: Scenario, persona: Persona) -> str:
    """The system prompt of one listed agent: who it is, who else talks, the load, the floor."""
    others = [p for p in scenario.agents if p.role != persona.role]
    with_whom = spoken_list([f"{p.name} ({p.role})" for p in others])
    pickup, delivery = scenario.pickup, scenario.delivery
    pickup_at = f" at {pickup.time}" if pickup.time else ""
    delivery_at = f" by {delivery.time}" if delivery.time else ""
    opener = scenario.agents[0]
    opened = "You opened the call." if opener == persona else f"{opener.name} opened the call."
    part = persona.instructions or f"Speak as the {persona.role} would."
    return (
        f"You are {persona.name}, the {persona.role}, on a phone call with {with_whom} about "
        f"load {scenario.load_id} ({scenario.title}). The load picks up in "
        f"{pickup.location}{pickup_at} and delivers to {delivery.location}{delivery_at}. "
        f"Situation: {scenario.situation} {part} {opened} "
        "What the others say reaches you as 'Name: words'. Keep each turn to one or two short "
        "spoken sentences, speak only for yourself, end by naming the person who should answer "
        "you, and say goodbye once the call is settled."
    )


def opening_instructions(scenario: Scenario) -> str:
    """What the first agent is asked to do for the first line of the call."""
    greeted = spoken_list([p.name for p in scenario.agents[1:]])
    return f"Greet {greeted}, say who you are, and bring up load {scenario.load_id}."


class PartyAgent(Agent):
    """One listed agent of the call."""

    def __init__(self, scenario: Scenario, persona: Persona) -> None:
        super().__init__(instructions=party_instructions(scenario, persona))
        self.scenario = scenario
        self.persona = persona


def agent_for(scenario: Scenario, role: Role) -> Agent:
    """The ``Agent`` playing ``role``: Tim or Chris for a pair-form scenario, else a PartyAgent."""
    if is_pair(scenario.agents):
        return DispatcherAgent(scenario) if role == "dispatcher" else DriverAgent(scenario)
    return PartyAgent(scenario, scenario.persona(role))
