"""Every access token the project mints: room-scoped agent participants (the worker's second
agent, test clients) and the dashboard's hidden observer. In ``agents`` so that the worker,
which must not import ``tui``, and the dashboard share one implementation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from livekit.api import AccessToken, VideoGrants

OBSERVER_IDENTITY = "dispatch-tui-observer"
OBSERVER_TTL = timedelta(minutes=10)
"""Short on purpose: the token is only needed to connect; the session outlives it."""
AGENT_TTL = timedelta(hours=1)


def observer_token(
    api_key: str,
    api_secret: str,
    room: str,
    identity: str = OBSERVER_IDENTITY,
    ttl: timedelta = OBSERVER_TTL,
) -> str:
    """A subscribe-only, hidden token for one room.

    Hidden keeps the observer out of the agents' participant lists (they must not talk to
    it) while it still receives tracks, attributes and text streams. It can publish neither
    media nor data, so a bug in the dashboard cannot disturb the conversation.
    """
    grants = VideoGrants(
        room_join=True,
        room=room,
        hidden=True,
        can_subscribe=True,
        can_publish=False,
        can_publish_data=False,
    )
    return (
        AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name("dispatch-tui")
        .with_kind("standard")
        .with_ttl(ttl)
        .with_grants(grants)
        .to_jwt()
    )


def agent_token(
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    name: str,
    attributes: Mapping[str, str] | None = None,
    ttl: timedelta = AGENT_TTL,
) -> str:
    """A token for an agent participant in one room.

    See docs/architecture.md, "Facts that shape the worker".

    ``can_update_own_metadata`` is required: without it the session cannot publish its
    ``lk.agent.state`` attribute. Kind ``agent`` marks it as an agent for the server and the
    observer; sessions ignore agent-kind participants unless their ``RoomOptions`` opt in.
    """
    grants = VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=True,
    )
    return (
        AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_kind("agent")
        .with_attributes(dict(attributes or {}))
        .with_ttl(ttl)
        .with_grants(grants)
        .to_jwt()
    )
