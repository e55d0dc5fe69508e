"""The room state's role queries once the room's scenario is known (pure, events only)."""

from __future__ import annotations

from agents.bundled import bundled_scenarios_dir
from agents.scenario import load_scenario
from tui.core.events import ObserverStatus, ParticipantJoined
from tui.core.roles import parse_match
from tui.core.state import RoomState

ROOM = "conv_KDC-3107_x"
KDC = load_scenario(bundled_scenarios_dir() / "kdc-3107.json").to_json()


def joined(state: RoomState, identity: str, name: str, at: float = 1.0) -> None:
    state.apply(ParticipantJoined(ROOM, identity, name, "agent", at=at))


def test_agents_seen_before_the_metadata_are_classified_again() -> None:
    state = RoomState(ROOM)
    # the observer replays who is there, then reports itself connected with the metadata
    for identity, name in (("dispatcher-tim", "Tim"), ("driver-chris", "Chris")):
        joined(state, identity, name)
    joined(state, "receiver-rosa", "Rosa")
    assert [view.identity for view in state.unmatched()] == ["receiver-rosa"]
    assert state.pane_roles() == ("dispatcher", "driver")
    state.apply(ObserverStatus(ROOM, "connected", at=2.0, metadata=KDC))
    assert state.unmatched() == []
    rosa = state.for_role("receiver")
    assert rosa is not None and rosa.identity == "receiver-rosa"
    assert state.expected_roles() == state.pane_roles() == ("dispatcher", "driver", "receiver")
    assert state.missing_roles() == []


def test_a_missing_expected_agent_is_missing_and_a_new_room_expects_the_pair_again() -> None:
    state = RoomState(ROOM, now=0.0)
    state.apply(ObserverStatus(ROOM, "connected", at=0.5, metadata=KDC))
    joined(state, "dispatcher-tim", "Tim")
    assert state.missing_roles() == ["driver", "receiver"]
    assert state.missing_for("receiver", now=12.0) == 12.0
    state.reset("other", now=20.0)
    assert state.expected_roles() == ("dispatcher", "driver")
    # a reconnect carries no metadata and keeps the room's agents
    state.apply(ObserverStatus("other", "reconnected", at=21.0))
    assert state.expected_roles() == ("dispatcher", "driver")


def test_a_match_only_role_gets_a_pane_once_an_agent_takes_it() -> None:
    state = RoomState(ROOM, matches=(parse_match("yard=spotter"),))
    state.apply(ObserverStatus(ROOM, "connected", at=0.5, metadata=KDC))
    assert state.pane_roles() == ("dispatcher", "driver", "receiver")
    joined(state, "agent_7", "Yard Spotter")
    assert state.pane_roles() == ("dispatcher", "driver", "receiver", "yard")
    state.reset("next")
    assert state.rules.matches == state.matches  # --match outlives the room
