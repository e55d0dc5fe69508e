"""Chris, the driver: an ``Agent`` whose instructions come from the scenario."""

from __future__ import annotations

from livekit.agents import Agent

from agents.scenario import Scenario


def driver_instructions(scenario: Scenario) -> str:
    """The driver's system prompt: who Chris is, the load he carries and the situation."""
    tim, chris = scenario.dispatcher, scenario.driver
    pickup, delivery = scenario.pickup, scenario.delivery
    pickup_at = f" at {pickup.time}" if pickup.time else ""
    delivery_at = f" by {delivery.time}" if delivery.time else ""
    return (
        f"You are {chris.name}, a truck driver on a phone call with {tim.name}, your dispatcher. "
        f"You are hauling load {scenario.load_id} ({scenario.title}), picked up in "
        f"{pickup.location}{pickup_at}, delivering to {delivery.location}{delivery_at}. "
        f"Situation: {scenario.situation} "
        f"Answer {tim.name} in one or two short spoken sentences, give realistic details from "
        "the road, and say goodbye when the dispatcher wraps up."
    )


class DriverAgent(Agent):
    """Chris: answers the dispatcher."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(instructions=driver_instructions(scenario))
        self.scenario = scenario
