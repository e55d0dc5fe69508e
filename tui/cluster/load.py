"""Run many conversations on a cluster and watch each one the way the dashboard does.

Shared by the cluster tests and the bench (``bench/cluster_bench.py``). Each room is created
through one node and observed through the next one with the dashboard's own
:class:`tui.core.observer.RoomObserver` (hidden, subscribe-only), so every figure here is what a
``--no-worker`` dashboard attached to a single node would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from livekit import api

from agents.scenario import Scenario, parse_scenario
from agents.tokens import observer_token
from tui.core.control_plane import ControlPlane
from tui.core.control_plane_jobs import RoomJob, room_jobs
from tui.core.events import (
    DomainEvent,
    ParticipantJoined,
    ParticipantLeft,
    SessionEvent,
    TrackUpdate,
    TranscriptSegment,
)
from tui.core.observer import RoomObserver

GOODBYE_SCRIPT: tuple[tuple[str, str], ...] = (
    ("dispatcher", "Hi Chris, Tim here about load HDX-2478."),
    ("driver", "Hey Tim, go ahead."),
    ("dispatcher", "The receiver wants it two hours early."),
    ("driver", "I can do that."),
    ("dispatcher", "Great, thanks. Goodbye."),
    ("driver", "Goodbye Tim."),
)
"""Six short lines ending in both goodbyes: the worker ends the call after the sixth."""


def scripted_scenario(lines: Sequence[tuple[str, str]] = GOODBYE_SCRIPT) -> Scenario:
    """A scenario whose offline voices speak exactly ``lines`` (max_turns = their count)."""
    data: dict[str, Any] = {
        "load_id": "HDX-2478",
        "pickup": {"location": "Fresno, California", "time": "06:00"},
        "delivery": {"location": "Salt Lake City, Utah", "time": "Thursday 14:00"},
        "situation": "The receiver moved the delivery window up by two hours.",
        "max_turns": len(lines),
        "script": [{"speaker": speaker, "text": text} for speaker, text in lines],
    }
    return parse_scenario(data, "cluster load scenario")


@dataclass
class RoomWatch:
    """What one hidden observer saw of one room; fed by the observer's sink on the loop."""

    room: str
    created_via: str
    observed_via: str
    agents: frozenset[str]
    created_at: float
    """``time.monotonic()`` just before the room was created."""
    created_wall: float = 0.0
    """``time.time()`` at the same moment, to compare with the agents' own clocks."""
    sessions_started: dict[str, float] = field(default_factory=dict)
    """Role -> the worker's wall clock when that agent's session started (its event's
    ``sent_at``)."""
    joined: set[str] = field(default_factory=set)
    published: set[str] = field(default_factory=set)
    left: set[str] = field(default_factory=set)
    first_seen: dict[str, int] = field(default_factory=dict)
    """Segment id -> the order in which segments started arriving (the order of speaking)."""
    finals: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Segment id -> ``(identity, text)`` of each final segment."""
    both_agents_at: float | None = None
    """When both agents' audio tracks were published (monotonic)."""
    ended_at: float | None = None
    """When both agents had left after joining (monotonic)."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    journal: list[str] = field(default_factory=list)
    """What the observer saw, timed from creation: each segment's first words and its end
    (final or cut), joins and departures. A failing test prints it."""

    def sink(self, event: DomainEvent) -> None:
        """The observer's sink: cheap bookkeeping, then wake whoever waits on ``changed``."""
        now = time.monotonic()
        self._note(event, now)
        if isinstance(event, ParticipantJoined) and event.identity in self.agents:
            self.joined.add(event.identity)
            self.left.discard(event.identity)
        elif isinstance(event, TrackUpdate) and event.identity in self.agents:
            if event.kind == "audio" and event.status in ("published", "subscribed"):
                self.published.add(event.identity)
                if self.both_agents_at is None and self.published >= self.agents:
                    self.both_agents_at = now
        elif isinstance(event, TranscriptSegment):
            self.first_seen.setdefault(event.segment_id, len(self.first_seen))
            if event.final and event.text.strip():
                self.finals[event.segment_id] = (event.identity, event.text.strip())
        elif isinstance(event, SessionEvent) and event.kind == "session_started":
            self.sessions_started.setdefault(event.role, event.sent_at)
        elif isinstance(event, SessionEvent) and event.kind == "turn":
            index, text = event.payload.get("index"), event.payload.get("text")
            if isinstance(index, int) and isinstance(text, str):
                self.turns[index] = (event.role, text.strip())
        elif isinstance(event, ParticipantLeft) and event.identity in self.agents:
            self.left.add(event.identity)
            if self.ended_at is None and self.joined >= self.agents and self.left >= self.agents:
                self.ended_at = now
        self.changed.set()

    turns: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Turn index -> ``(role, text)``, from the agents' own session events."""

    def _note(self, event: DomainEvent, now: float) -> None:
        at = f"{now - self.created_at:7.2f}s"
        if isinstance(event, TranscriptSegment):
            if event.segment_id not in self.first_seen:
                self.journal.append(f"{at} {event.identity} starts {event.segment_id}")
            elif not event.final:
                return  # growing text: too many to keep
            else:
                self.journal.append(f"{at} {event.identity} final {event.text.strip()!r}")
        elif isinstance(event, (ParticipantJoined, ParticipantLeft)):
            self.journal.append(f"{at} {type(event).__name__} {event.identity}")

    @property
    def lines(self) -> list[tuple[str, str]]:
        """Every final line, in the order its first words arrived.

        Across agents this is not always the order of speaking: each transcript stream is
        delivered on its own, and under load one agent's words can arrive after the next
        speaker's. The call's order is in :attr:`turns`; :meth:`said_by` is each agent's own.
        """
        return [self.finals[s] for s in sorted(self.finals, key=self.first_seen.__getitem__)]

    def said_by(self, identity: str) -> list[str]:
        """One agent's final lines, in its own order."""
        return [text for who, text in self.lines if who == identity]

    def call_order(self) -> list[tuple[str, str]]:
        """``(role, text)`` of every turn, in the order the worker's relay recorded them."""
        return [self.turns[index] for index in sorted(self.turns)]

    @property
    def sessions_started_s(self) -> float | None:
        """Creation to the last agent's session started, by the worker's clock: the worker's
        share of :attr:`time_to_both_agents_s`, apart from how late the observer heard."""
        if not self.created_wall or len(self.sessions_started) < len(self.agents):
            return None
        return max(self.sessions_started.values()) - self.created_wall

    @property
    def time_to_both_agents_s(self) -> float | None:
        return None if self.both_agents_at is None else self.both_agents_at - self.created_at

    @property
    def completed(self) -> bool:
        """Both agents spoke and the call ended with both leaving."""
        return self.ended_at is not None and self.both_agents_at is not None

    async def wait_until(self, predicate: Any, timeout_s: float) -> bool:
        """Wait (event-driven, no polling) until ``predicate(self)`` holds; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate(self):
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True


class ClusterSession:
    """Control planes and observers on every node of a cluster; use as ``async with``."""

    def __init__(self, urls: Sequence[str], api_key: str, api_secret: str) -> None:
        if not urls:
            raise ValueError("no node URLs")
        self.urls = list(urls)
        self._api_key = api_key
        self._api_secret = api_secret
        self.planes = [ControlPlane(url, api_key, api_secret, timeout_s=20.0) for url in urls]
        self.apis: list[api.LiveKitAPI] = []
        self._observers: list[RoomObserver] = []
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> ClusterSession:
        for plane in self.planes:
            await self._stack.enter_async_context(plane)
        for url in self.urls:
            lkapi = api.LiveKitAPI(url, self._api_key, self._api_secret)
            self.apis.append(lkapi)
            self._stack.push_async_callback(lkapi.aclose)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(o.aclose() for o in self._observers), return_exceptions=True)
        await self._stack.aclose()

    async def open_room(self, index: int, scenario: Scenario) -> RoomWatch:
        """Create room ``index`` through node ``index % n``, observe it through the next node."""
        create_node = index % len(self.urls)
        observe_node = (index + 1) % len(self.urls)
        started, started_wall = time.monotonic(), time.time()
        created = await self.planes[create_node].create_room(scenario, watched=True)
        watch = RoomWatch(
            room=created.name,
            created_via=self.urls[create_node],
            observed_via=self.urls[observe_node],
            agents=frozenset(persona.identity for persona in scenario.agents),
            created_at=started,
            created_wall=started_wall,
        )
        token = observer_token(
            self._api_key, self._api_secret, created.name, identity=f"observer-{index}"
        )
        # no level meters: a RoomWatch reads no levels, and ten rooms of audio frames in one
        # process left its observers seconds behind the calls (their last lines then arrived
        # after the agents had left, and the SDK cut them)
        observer = RoomObserver(
            self.urls[observe_node],
            token,
            created.name,
            watch.sink,
            connect_timeout_s=30.0,
            meter_levels=False,
        )
        self._observers.append(observer)
        await observer.start()
        return watch

    async def jobs(self, room: str, node: int = 0) -> list[RoomJob]:
        """The room's jobs as seen through ``node``."""
        return await room_jobs(self.apis[node], room)

    async def assigned_jobs(
        self, room: str, node: int = 0, timeout_s: float = 30.0
    ) -> list[RoomJob]:
        """The room's jobs once every dispatch lists one (or whatever is there at timeout).

        Measured: a dispatch's job appears in ListDispatch seconds after the job started,
        often after both agents are already talking, so an ``unassigned`` row right after
        creation means "not recorded yet". Server state has no event to wait on: poll.
        """
        deadline = time.monotonic() + timeout_s
        rows: list[RoomJob] = []
        while True:
            try:
                rows = await self.jobs(room, node)
            except api.TwirpError as exc:
                # Measured under load: the node holding the room may not answer the forwarded
                # ListDispatch in time (503 "no response from servers"); it answers later.
                if exc.status != 503 or time.monotonic() > deadline:
                    raise
            else:
                if all(row.status != "unassigned" for row in rows):
                    return rows
            if time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.5)

    async def delete_rooms(self, rooms: Sequence[str]) -> None:
        """Delete rooms, ignoring ones that are already gone."""
        for room in rooms:
            with contextlib.suppress(Exception):
                await self.planes[0].delete_room(room)


@dataclass(frozen=True)
class LoadResult:
    """The outcome of :func:`run_conversations`."""

    watches: list[RoomWatch]
    jobs: dict[str, list[RoomJob]]
    """Jobs per room, read once every conversation had both agents (or timed out)."""
    wall_s: float

    @property
    def completed(self) -> int:
        return sum(w.completed for w in self.watches)

    @property
    def times_to_both_agents(self) -> list[float]:
        return sorted(t for w in self.watches if (t := w.time_to_both_agents_s) is not None)

    def jobs_per_worker(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rows in self.jobs.values():
            for row in rows:
                if row.worker_id:
                    counts[row.worker_id] = counts.get(row.worker_id, 0) + 1
        return counts


async def run_conversations(
    session: ClusterSession,
    rooms: int,
    *,
    scenario: Scenario | None = None,
    timeout_s: float = 90.0,
    join_timeout_s: float | None = None,
) -> LoadResult:
    """Start ``rooms`` conversations at once, spread over the nodes, and watch them end.

    With ``join_timeout_s``, a room no agent joined by then was refused (workers that admit
    only what they run in real time leave the excess unassigned) and is not waited for.
    """
    scenario = scenario or scripted_scenario()
    started = time.monotonic()
    watches = list(await asyncio.gather(*(session.open_room(i, scenario) for i in range(rooms))))
    join_wait_s = min(timeout_s, join_timeout_s or timeout_s)

    async def jobs_while_talking(index: int, watch: RoomWatch) -> tuple[str, list[RoomJob]]:
        # each room's jobs as soon as its agents talk: a call that ended before its jobs were
        # read has no participant left, and its job reads as lost (one by one after all ten
        # had their agents, the last rooms' calls had ended at load 29)
        await watch.wait_until(lambda w: w.both_agents_at is not None, join_wait_s)
        if not watch.joined:  # refused: its dispatch stays unassigned
            return watch.room, await session.jobs(watch.room, index % len(session.urls))
        return watch.room, await session.assigned_jobs(watch.room, index % len(session.urls))

    jobs = dict(await asyncio.gather(*(jobs_while_talking(i, w) for i, w in enumerate(watches))))
    remaining = max(1.0, timeout_s - (time.monotonic() - started))
    await asyncio.gather(
        *(w.wait_until(lambda w: w.completed, remaining) for w in watches if w.joined)
    )
    result = LoadResult(watches=watches, jobs=jobs, wall_s=time.monotonic() - started)
    await session.delete_rooms([w.room for w in watches])
    return result
