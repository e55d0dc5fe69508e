"""The diagnostics for a room of more than two agents: checks per expected agent, by name."""

from __future__ import annotations

from test_diagnostics import CHRIS, LOUD, ROOM, TIM, agent, by_id, engine

from agents.bundled import bundled_scenarios_dir
from agents.scenario import load_scenario
from tui.core.diagnostics import Thresholds
from tui.core.events import AudioLevel, ObserverStatus
from tui.core.room_model import RoomModel


def _three_agent_room(diag: RoomModel) -> None:
    """The bundled three-agent scenario's room, as the observer reports it."""
    metadata = load_scenario(bundled_scenarios_dir() / "kdc-3107.json").to_json()
    diag.apply(ObserverStatus(ROOM, "connected", at=0.0, metadata=metadata))


def test_three_agents_get_their_own_checks() -> None:
    diag = engine(thresholds=Thresholds(one_sided_s=4.0))
    _three_agent_room(diag)
    for identity in (TIM, CHRIS, "receiver-rosa"):
        agent(diag, identity, 0.0)
    diag.apply(AudioLevel(ROOM, TIM, LOUD, at=1.0))
    diag.apply(AudioLevel(ROOM, CHRIS, LOUD, at=1.5))
    checks = diag.evaluate(6.0)
    assert len({c.id for c in checks}) == len(checks) == 24  # 21 + the receiver's three
    found = by_id(checks)
    assert (
        found["room.receiver"].status == "ok" and found["room.receiver"].title == "Rosa in the room"
    )
    assert found["room.unmatched"].status == "ok"
    assert found["audio.receiver"].title == "Rosa's audio"
    one_sided = found["speaking.one_sided"]
    assert one_sided.title == "Every agent speaks"
    assert one_sided.status == "fail"
    assert one_sided.finding.startswith("only Tim and Chris are speaking: Rosa has said nothing")


def test_a_missing_third_agent_fails_its_presence_check() -> None:
    diag = engine()
    _three_agent_room(diag)
    agent(diag, TIM, 0.0)
    agent(diag, CHRIS, 0.0)
    missing = by_id(diag.evaluate(30.0))["room.receiver"]
    assert missing.status == "fail" and "no receiver agent in the room for 30 s" in missing.finding
    assert (
        by_id(diag.evaluate(30.0))["speaking.one_sided"].finding == "needs all 3 agents in the room"
    )
