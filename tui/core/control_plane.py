"""Server-side operations on rooms and agent dispatches, with one-line errors.

A thin layer over ``livekit.api.LiveKitAPI``: it names rooms, stores the scenario, asks for the
explicit dispatch, and turns every transport or server failure into a ``ControlPlaneError`` that
says whether the server could not be reached or refused the credentials. No secret ever
appears in a message.

Facts measured against livekit-server (see tests/test_control_plane.py):

- ``CreateRoom`` is idempotent on the name: creating an existing room returns it unchanged
  (old metadata, old dispatches). Names are therefore made unique per call.
- ``CreateDispatch`` on a room that does not exist silently creates that room, so
  ``redispatch`` checks that the room exists first.
- ``ListDispatch`` on a room that does not exist answers 503 "no response from servers", after
  about 3 s.
- livekit-api 1.2.2 ignores the ``timeout`` given to ``LiveKitAPI`` (see ``_guard``).
- A room holding only agent participants counts as empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
from livekit import api

from agents.constants import AGENT_NAME
from agents.scenario import LOAD_ID_PATTERN, Scenario
from tui.core.control_plane_jobs import RoomJob, jobs_of
from tui.core.infra_events import ControlPlaneErrorKind, RoomSummary

__all__ = ["ControlPlane", "ControlPlaneError", "CreatedRoom", "DispatchSummary", "RoomSummary"]
from tui.core.redaction import redact
from tui.core.settings import LiveKitSettings

DEFAULT_TIMEOUT_S = 10.0

# The server closes a room that has no non-agent participant `empty_timeout` seconds after it
# was created, even while agents are talking in it (measured: an agent-only room closed at the
# same moment as a room nobody joined). So empty_timeout is the whole conversation's budget when
# nobody observes, e.g. `create-room` with a remote worker. It is sized from the scenario: time
# for the worker to pick up the job and connect the models, plus a generous time per turn.
ROOM_START_BUDGET_S = 60
SECONDS_PER_TURN = 20
# Once the dashboard's hidden observer (a standard participant, so it keeps the room open)
# leaves, the room closes after departure_timeout: long enough for the dashboard to reconnect
# after a restart, short enough that finished conversations do not linger.
DEPARTURE_TIMEOUT_S = 20
# A room this tool creates and then watches asks its call to wait this long for the watcher's
# hidden observer before the first line (see agents/observer_wait.py): measured, ten watchers
# joining at once beside a CPU burner on 2 cores took up to several seconds, after the opening.
WATCHED_OBSERVER_WAIT_S = 10.0

ErrorKind = ControlPlaneErrorKind


class ControlPlaneError(RuntimeError):
    """A room or dispatch operation failed; the message is one line with the likely fix."""

    def __init__(self, message: str, kind: ErrorKind = "server") -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        """``unreachable``, ``credentials``, ``not_found`` or ``server``."""


@dataclass(frozen=True)
class CreatedRoom:
    """A room created for a scenario and the dispatch that will bring the agents in."""

    name: str
    dispatch_id: str
    sid: str


@dataclass(frozen=True)
class DispatchSummary:
    """One agent dispatch of a room."""

    dispatch_id: str
    agent_name: str
    room: str
    num_jobs: int


def room_timeouts(scenario: Scenario) -> tuple[int, int]:
    """``(empty_timeout, departure_timeout)`` in seconds for a scenario's room."""
    budget = ROOM_START_BUDGET_S + SECONDS_PER_TURN * scenario.max_turns
    return budget + round(scenario.observer_wait_s), DEPARTURE_TIMEOUT_S


def new_room_name(load_id: str, now: datetime | None = None) -> str:
    """``conv_<LOAD>_<UTC time>_<random>``: sortable by time, unique even for concurrent calls.

    The random suffix matters because CreateRoom returns an existing room of the same name
    instead of failing.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"conv_{load_id}_{stamp}_{secrets.token_hex(3)}"


def load_id_from_metadata(metadata: str) -> str | None:
    """The load id stored in a room's metadata, or None for rooms made by something else."""
    if not metadata:
        return None
    try:
        data = json.loads(metadata)
    except ValueError:
        return None
    load_id = data.get("load_id") if isinstance(data, dict) else None
    if isinstance(load_id, str) and LOAD_ID_PATTERN.match(load_id):
        return load_id
    return None


def display_url(url: str) -> str:
    """``scheme://host:port`` of a URL, without user info, path or query, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class ControlPlane:
    """Room and dispatch operations on one LiveKit server; use as ``async with``."""

    def __init__(
        self, url: str, api_key: str, api_secret: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._api_secret = api_secret
        self._timeout_s = timeout_s
        self._api: api.LiveKitAPI | None = None

    @classmethod
    def from_settings(
        cls, settings: LiveKitSettings, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> ControlPlane:
        """A control plane for resolved settings."""
        return cls(settings.url, settings.api_key, settings.api_secret, timeout_s=timeout_s)

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"ControlPlane(url={display_url(self._url)!r})"

    async def __aenter__(self) -> ControlPlane:
        # LiveKitAPI opens an aiohttp session, which belongs inside a running loop.
        self._api = api.LiveKitAPI(
            self._url,
            self._api_key,
            self._api_secret,
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lkapi, self._api = self._api, None
        if lkapi is not None:
            await lkapi.aclose()

    @property
    def _lk(self) -> api.LiveKitAPI:
        if self._api is None:
            raise RuntimeError("use the ControlPlane inside `async with`")
        return self._api

    def _error(self, exc: BaseException, action: str) -> ControlPlaneError:
        """One line for a failed call, distinguishing transport, credentials and server."""
        where = display_url(self._url)
        if isinstance(exc, api.ServerError):
            if exc.status in (401, 403) or exc.code in ("unauthenticated", "permission_denied"):
                return ControlPlaneError(
                    f"{action}: credentials rejected by {where} "
                    "(check LIVEKIT_API_KEY/LIVEKIT_API_SECRET)",
                    "credentials",
                )
            if exc.status == 404 and exc.code in ("bad_route", "unknown"):
                return ControlPlaneError(
                    f"{action}: {where} answered 404; is LIVEKIT_URL a LiveKit server?", "server"
                )
            if exc.code == "not_found":
                return ControlPlaneError(f"{action}: {exc.message or 'not found'}", "not_found")
            detail = (exc.message or exc.code).replace("twirp error unknown: ", "")
            text = f"{action}: server error {exc.status} ({exc.code}): {detail}"
        elif isinstance(exc, TimeoutError):
            return ControlPlaneError(
                f"{action}: LiveKit server at {where} did not answer within "
                f"{self._timeout_s:g}s; check that it is running and LIVEKIT_URL",
                "unreachable",
            )
        elif isinstance(exc, aiohttp.ClientConnectionError | OSError):
            return ControlPlaneError(
                f"{action}: LiveKit server unreachable at {where}; start it or fix LIVEKIT_URL",
                "unreachable",
            )
        else:
            text = f"{action}: {exc.__class__.__name__}: {exc}"
        # Server messages are foreign text: keep them on one line and free of the secret.
        one_line = " ".join(text.split())
        return ControlPlaneError(redact(one_line, [self._api_secret]), "server")

    @contextlib.asynccontextmanager
    async def _guard(self, action: str) -> AsyncIterator[None]:
        """Bound the calls inside by the timeout and translate their failures.

        livekit-api 1.2.2 passes ``timeout=None`` to every aiohttp request, which disables
        the session timeout given to LiveKitAPI: without this bound a server that accepts the
        connection but never answers hangs the caller forever.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except ControlPlaneError:
            raise
        except Exception as exc:
            raise self._error(exc, action) from None

    async def create_room(
        self, scenario: Scenario, agent_name: str = AGENT_NAME, *, watched: bool = False
    ) -> CreatedRoom:
        """Create a fresh room for the scenario with an explicit dispatch to ``agent_name``.

        The scenario goes into both the room metadata (for the observer and ``ctx.job.room``)
        and the dispatch metadata (``ctx.job.metadata``). ``watched``: the caller joins the
        room as its observer next, so the call waits for it (``WATCHED_OBSERVER_WAIT_S``).
        """
        if watched and scenario.observer_wait_s < WATCHED_OBSERVER_WAIT_S:
            scenario = replace(scenario, observer_wait_s=WATCHED_OBSERVER_WAIT_S)
        name = new_room_name(scenario.load_id)
        metadata = scenario.to_json()
        empty_timeout, departure_timeout = room_timeouts(scenario)
        request = api.CreateRoomRequest(
            name=name,
            metadata=metadata,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            agents=[api.RoomAgentDispatch(agent_name=agent_name, metadata=metadata)],
        )
        action = f"create room for {scenario.load_id}"
        async with self._guard(action):
            room = await self._lk.room.create_room(request)
            dispatches = await self._lk.agent_dispatch.list_dispatch(name)
        if room.metadata != metadata:
            # CreateRoom returned a room that already existed (see the module docstring).
            raise ControlPlaneError(f"{action}: room {name} already existed; try again")
        for dispatch in dispatches:
            if dispatch.agent_name == agent_name:
                return CreatedRoom(name=room.name, dispatch_id=dispatch.id, sid=room.sid)
        raise ControlPlaneError(
            f"{action}: room {name} was created but the server lists no dispatch for "
            f"agent {agent_name!r}"
        )

    async def list_rooms(self) -> list[RoomSummary]:
        """All active rooms, oldest first."""
        async with self._guard("list rooms"):
            reply = await self._lk.room.list_rooms(api.ListRoomsRequest())
        rooms = [_summary(room) for room in reply.rooms]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(rooms, key=lambda r: (r.created_at or epoch, r.name))

    async def _find_room(self, room: str) -> api.Room | None:
        reply = await self._lk.room.list_rooms(api.ListRoomsRequest(names=[room]))
        return next((r for r in reply.rooms if r.name == room), None)

    async def _existing_room(self, room: str, action: str) -> api.Room:
        """The active room ``room``, or a ``not_found`` error for ``action``.

        Checked first because CreateDispatch on a missing room silently creates it, and
        ListDispatch on one answers 503 "no response from servers" only after about 3 s.
        """
        found = await self._find_room(room)
        if found is None:
            raise ControlPlaneError(f"{action}: no active room named {room}", "not_found")
        return found

    async def room_exists(self, room: str) -> bool:
        """Whether a room of that name is active."""
        async with self._guard(f"look up room {room}"):
            return await self._find_room(room) is not None

    async def redispatch(self, room: str, agent_name: str = AGENT_NAME) -> str:
        """Ask for another dispatch of ``agent_name`` to an existing room; the dispatch id.

        The dispatch carries the room's metadata (the scenario), like the original one.
        """
        action = f"dispatch {agent_name} to {room}"
        async with self._guard(action):
            found = await self._existing_room(room, action)
            dispatch = await self._lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=agent_name, room=room, metadata=found.metadata
                )
            )
        return dispatch.id

    async def list_dispatches(self, room: str) -> list[DispatchSummary]:
        """The agent dispatches of an existing room."""
        action = f"list dispatches of {room}"
        async with self._guard(action):
            await self._existing_room(room, action)
            dispatches = await self._lk.agent_dispatch.list_dispatch(room)
        return [_dispatch_summary(d) for d in dispatches]

    async def list_jobs(self, room: str) -> tuple[list[DispatchSummary], list[RoomJob]]:
        """The room's dispatches, and its jobs with the worker that runs each.

        Works through any node of a cluster; see :mod:`tui.core.control_plane_jobs` for how a
        ``lost`` or ``unassigned`` job is recognised.
        """
        action = f"list jobs of {room}"
        async with self._guard(action):
            await self._existing_room(room, action)
            reply = await self._lk.room.list_participants(api.ListParticipantsRequest(room=room))
            dispatches = list(await self._lk.agent_dispatch.list_dispatch(room))
        present = {p.identity for p in reply.participants}
        return [_dispatch_summary(d) for d in dispatches], jobs_of(dispatches, present)

    async def delete_room(self, room: str) -> None:
        """Delete a room, disconnecting everyone in it (agents included)."""
        async with self._guard(f"delete room {room}"):
            await self._lk.room.delete_room(api.DeleteRoomRequest(room=room))


def _dispatch_summary(dispatch: api.AgentDispatch) -> DispatchSummary:
    return DispatchSummary(
        dispatch_id=dispatch.id,
        agent_name=dispatch.agent_name,
        room=dispatch.room,
        num_jobs=len(dispatch.state.jobs),
    )


def _summary(room: api.Room) -> RoomSummary:
    millis = room.creation_time_ms or room.creation_time * 1000
    created = datetime.fromtimestamp(millis / 1000, UTC) if millis else None
    return RoomSummary(
        name=room.name,
        sid=room.sid,
        num_participants=room.num_participants,
        created_at=created,
        load_id=load_id_from_metadata(room.metadata),
    )
