"""Tim, the dispatcher: an ``Agent`` whose instructions come from the scenario."""

from __future__ import annotations

from livekit.agents import Agent

from agents.scenario import Scenario


def dispatcher_instructions(scenario: Scenario) -> str:
    """The dispatcher's system prompt: who Tim is, the load, the route and what went wrong."""
    tim, chris = scenario.dispatcher, scenario.driver
    pickup, delivery = scenario.pickup, scenario.delivery
    pickup_at = f" at {pickup.time}" if pickup.time else ""
    delivery_at = f" by {delivery.time}" if delivery.time else ""
    return (
        f"You are {tim.name}, a freight dispatcher on a phone call with {chris.name}, the truck "
        f"driver hauling load {scenario.load_id} ({scenario.title}). "
        f"The load picks up in {pickup.location}{pickup_at} and delivers to "
        f"{delivery.location}{delivery_at}. "
        f"Situation: {scenario.situation} "
        "You opened the call. Keep each turn to one or two short spoken sentences, stay on this "
        "load, confirm the plan, and end the call politely with a goodbye once it is settled."
    )


class DispatcherAgent(Agent):
    """Tim: opens the call and drives it to a decision."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(instructions=dispatcher_instructions(scenario))
        self.scenario = scenario

    def opening_instructions(self) -> str:
        """What Tim is asked to do for the first line of the call."""
        return (
            f"Greet {self.scenario.driver.name}, say who you are, and bring up load "
            f"{self.scenario.load_id}."
        )
