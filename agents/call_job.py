"""One call: the scenario's agents (Tim and Chris, or up to six) in one room, start to end.

The first agent is the job participant. Every other agent joins through an ``rtc.Room`` of its
own, connected with a token minted in the job, so no two sessions share an identity, an
``lk.agent.state`` attribute or text-stream handlers (docs/architecture.md, "Facts that shape the
worker"). No session listens to audio; the ``TurnRelay`` moderates the floor. ``entrypoint`` is
the job function the worker runs (:mod:`agents.worker_server`); it stays a module-level function
so process executors can pickle it by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from livekit import rtc
from livekit.agents import JobContext

from agents.call_seats import Seat, agent_room_options, receive_everything
from agents.compat import job_server_url
from agents.constants import ROLE_ATTRIBUTE
from agents.floor import scenario_floor
from agents.join_timeout import patient_connects, with_connect_timeout
from agents.observer_wait import wait_for_observer
from agents.party_agent import agent_for, opening_instructions
from agents.ready_watch import wait_until_ready
from agents.room_guard import RoomGuard
from agents.room_receipts import PeerReceipts
from agents.scenario import Persona, Role
from agents.scenario_source import scenario_for_job
from agents.session_events import (
    JobEvents,
    attach_session_events,
    one_line,
    role_label,
    turn_payload,
)
from agents.session_publisher import SessionEventPublisher
from agents.tokens import agent_token
from agents.turn_relay import (
    RelayParty,
    RelayResult,
    Turn,
    TurnRelay,
    chat_context_listener,
)
from agents.voices import VoiceConfigError, build_session, describe_voice
from agents.worker_config import WorkerConfig

logger = logging.getLogger("multi_agent_worker")

AGENT_ROOM_TOKEN_TTL_S = 6 * 3600
SETTLE_TIMEOUT_S = 5.0
"""How long a finished call waits for each agent to receive the others' last lines and events."""
DEPARTURE_GRACE_S = 3.0
"""How long the agents stay after the server has their last lines, before leaving: measured, a
starved observer (10 calls and a CPU burner on 2 cores) learned of a departure before the
departing agent's last transcript, which the SDK then cut (1 to 2 calls in 10 lost a line).
1 s was not enough for an observer on the other node of a cluster: beside a burner, the last
"Goodbye Tim." was cut in 1 of 3 ten-room cluster runs."""


def _agent_room_token(config: WorkerConfig, persona: Persona, room_name: str) -> str:
    """The token of an agent joining through a room of its own (every agent but the first)."""
    return agent_token(
        config.api_key or os.environ.get("LIVEKIT_API_KEY", ""),
        config.api_secret or os.environ.get("LIVEKIT_API_SECRET", ""),
        room_name,
        persona.identity,
        persona.name,
        {ROLE_ATTRIBUTE: persona.role},
        ttl=datetime.timedelta(seconds=AGENT_ROOM_TOKEN_TTL_S),
    )


class CallJob:
    """One room's call: every agent's session and room, and the relay, with one cleanup path."""

    def __init__(self, ctx: JobContext, config: WorkerConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.room_name = ctx.job.room.name or ctx.room.name
        self.scenario = scenario_for_job(ctx.job.metadata, ctx.job.room.metadata)
        agents = self.scenario.agents
        self.seats: dict[Role, Seat] = {}
        for index, persona in enumerate(agents):
            room = ctx.room if index == 0 else rtc.Room()
            self.seats[persona.role] = Seat(
                persona,
                room,
                SessionEventPublisher(room, persona.name),
                # the first agent's room hosts LiveKit's own session channel; the others only
                # overhear it
                PeerReceipts(room, drop_livekit_session=index > 0),
                linked=agents[(index + 1) % len(agents)].identity,
            )
        self.first, *others = self.seats.values()
        self.others: list[Seat] = others
        """The agents joining through rooms of their own."""
        self.events = JobEvents({role: seat.publisher for role, seat in self.seats.items()})
        self._room_lost = {seat.role: self._on_room_lost(seat) for seat in self.others}
        self.relay_task: asyncio.Task[RelayResult | None] | None = None
        self._cleaned = False
        self._closing: asyncio.Future[None] | None = None
        self.guard = RoomGuard(ctx, config, self.room_name)

    async def run(self) -> None:
        logger.info("=== MULTI-AGENT WORKER STARTING ===")
        logger.info("Room: %s", self.room_name)
        logger.info(
            "Scenario: %s (%s), voice: %s, agents: %s",
            self.scenario.load_id,
            self.scenario.source,
            self.config.voice,
            ", ".join(f"{p.name} ({p.role})" for p in self.scenario.agents),
        )
        self.ctx.add_shutdown_callback(self._cleanup)
        for seat in self.seats.values():
            seat.receipts.start()
        # an agent's room closing (deleted, or the server dropping us) must end the job too
        for seat in self.others:
            seat.room.on("disconnected", self._room_lost[seat.role])

        try:
            for role, seat in self.seats.items():
                seat.session = build_session(self.config.voice, self.scenario, role)
                attach_session_events(seat.session, role, self.events)
        except VoiceConfigError as exc:
            # one line, no traceback: the same cause stops every agent
            logger.error("✗ Agent sessions not started: %s", exc)
            for role in self.seats:
                self.events(role, "session_failed", {"error": str(exc)})
            self.ctx.shutdown(reason=f"voice unavailable: {exc}")
            return

        if self.scenario.observer_wait_s > 0:
            # before the agents join: the observer then sees the whole call, joins included
            await wait_for_observer(
                self.guard.server_api(), self.room_name, self.scenario.observer_wait_s
            )
        # A job can start after its room was deleted, or be dispatched by a deleted room's
        # resurrected copy (see RoomGuard.joined_a_recreated_room): joining would re-create the
        # room.
        if not await self.guard.room_is_live():
            self.ctx.shutdown(reason="room deleted before the agents joined")
            return
        # with participant_identity set, RoomIO needs a connected room before start(). The joins
        # overlap: a session publishes its track only once its linked agent is in the room, so
        # joining one after the other put whole joins on the way to the first words.
        joins = {seat.role: asyncio.ensure_future(self._join(seat)) for seat in self.others}
        try:
            patient_connects(self.ctx.room)
            await self.guard.connect(self.ctx.room, self.ctx.connect())
            recreated = await self.guard.joined_a_recreated_room(self.ctx.room)
        except BaseException:
            # cancelled (the room was deleted) or failed: the other joins must finish and leave
            for join in joins.values():
                join.cancel()
            await asyncio.gather(*joins.values(), return_exceptions=True)
            raise
        if recreated:
            # the other joins see the same deletion and leave (or cleanup disconnects them)
            await asyncio.gather(*joins.values(), return_exceptions=True)
            self.ctx.shutdown(reason="room deleted before the agents joined")
            return
        seats = list(self.seats.values())
        results = await asyncio.gather(
            *(self._start(seat, joins.get(seat.role)) for seat in seats), return_exceptions=True
        )
        started = [
            self._log_start(seat, result) for seat, result in zip(seats, results, strict=True)
        ]

        if all(started):
            self.relay_task = asyncio.create_task(self._converse(), name="turn_relay")
        else:
            # the agents that started stay in the room; the floor would wait for the missing one
            logger.warning(
                "No conversation: %d of %d agent sessions started", sum(started), len(started)
            )

    async def _join(self, seat: Seat) -> None:
        """Connect an agent's own room (alongside the job's join; see ``run``)."""
        url = job_server_url(self.ctx) or self.config.ws_url or os.environ.get("LIVEKIT_URL", "")
        token = _agent_room_token(self.config, seat.persona, self.room_name)
        options = with_connect_timeout()
        await self.guard.connect(seat.room, seat.room.connect(url, token, options=options))
        if await self.guard.joined_a_recreated_room(seat.room):
            raise RuntimeError(f"the room was deleted before the {seat.role} joined")

    async def _start(self, seat: Seat, joined: Awaitable[None] | None) -> rtc.Room:
        assert seat.session is not None
        if joined is not None:
            await joined
        await seat.session.start(
            agent_for(self.scenario, seat.role),
            room=seat.room,
            room_options=agent_room_options(seat.linked),
            record=False,
            # the first agent's session is the job's primary; the others only take part
            session_host=seat is self.first,
        )
        return seat.room

    def _log_start(self, seat: Seat, result: rtc.Room | BaseException) -> bool:
        label = role_label(seat.role)
        if isinstance(result, BaseException):
            logger.error("✗ %s agent session failed to start: %s", label, one_line(result))
            self.events(seat.role, "session_failed", {"error": one_line(result)})
            return False
        local = result.local_participant
        logger.info("✓ %s agent session started", label)
        logger.info("Local participant identity: %s", local.identity)
        logger.info("Local participant name: %s", local.name)
        self.events(
            seat.role,
            "session_started",
            {
                "identity": local.identity,
                "name": local.name,
                "voice": describe_voice(self.config.voice, self.scenario, seat.role).as_dict(),
            },
        )
        return True

    async def _converse(self) -> RelayResult | None:
        try:
            return await self._run_relay()
        except Exception as exc:
            # the task is not awaited by anyone until cleanup: report here, then end the job
            logger.error("Conversation failed: %s", one_line(exc))
            self.events(
                "", "conversation_ended", {"reason": "error", "turns": 0, "detail": str(exc)}
            )
            self.ctx.shutdown(reason=f"conversation failed: {one_line(exc)}")
            return None

    async def _run_relay(self) -> RelayResult:
        sessions = {role: seat.session for role, seat in self.seats.items() if seat.session}
        # each session publishes its track once its linked agent is in the room: start talking
        # only when all are ready, so the first words are not spoken into an unpublished track
        await wait_until_ready(list(self.seats.values()), report=self._report_not_ready)

        def on_turn(turn: Turn) -> None:
            seat = self.seats[turn.role]
            logger.info("%s: %s", seat.persona.name, turn.text)
            seat.said.add(turn.text)
            self.events(turn.role, "turn", turn_payload(turn))

        parties = [
            RelayParty(role, session, self.seats[role].persona.name, chat_context_listener(session))
            for role, session in sessions.items()
        ]
        floor = scenario_floor(self.scenario, offline=self.config.voice == "offline")
        relay = TurnRelay(
            *parties,
            max_turns=self.scenario.max_turns,
            opening_instructions=opening_instructions(self.scenario),
            on_turn=on_turn,
            turn_order=floor.order,
            script_order=floor.script,
        )
        result = await relay.run()
        logger.info(
            "Conversation ended (%s) after %d turns%s",
            result.reason,
            len(result.turns),
            f": {result.detail}" if result.detail else "",
        )
        self.events(
            "",
            "conversation_ended",
            {"reason": result.reason, "turns": len(result.turns), "detail": result.detail},
        )
        # Before the job ends: the framework disconnects the first agent's room before any
        # shutdown callback runs, and a line still on its way when an agent leaves is lost.
        await self._close_sessions()
        await self._settle()
        self.ctx.shutdown(reason=f"conversation ended: {result.reason}")
        return result

    def _report_not_ready(self, seat: Seat, what: str) -> None:
        """A late session, as a (recoverable) error event: a dashboard shows why it is silent."""
        self.events(seat.role, "error", {"error": what, "source": "room", "recoverable": True})

    def _on_room_lost(self, seat: Seat) -> Callable[..., None]:
        """The handler of ``seat``'s own room disconnecting."""

        def on_disconnected(reason: Any = None) -> None:
            if self._cleaned:
                return
            if self.relay_task is not None and not self.relay_task.done():
                # Closing the sessions ends the relay, which reports the end of the call through
                # the first agent while its room is still connected, then ends the job.
                self._close_sessions()
            else:
                self.ctx.shutdown(reason=f"{seat.role} room disconnected")

        return on_disconnected

    async def _cleanup(self, reason: str = "") -> None:
        """Runs once on every job shutdown: stop the relay, close sessions, leave the rooms."""
        if self._cleaned:
            return
        self._cleaned = True
        for seat in self.others:
            seat.room.off("disconnected", self._room_lost[seat.role])
        if self.relay_task is not None and not self.relay_task.done():
            self.relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.relay_task
        await self._close_sessions()
        for seat in self.seats.values():
            await seat.publisher.aclose()
        for seat in self.seats.values():
            await seat.receipts.aclose()
        for seat in self.seats.values():  # no attribute update outlives the job
            await seat.said.aclose()
        for seat in self.others:
            with contextlib.suppress(Exception):
                await seat.room.disconnect()
        logger.info("Job for room %s finished (%s)", self.room_name, reason or "shutdown")

    def _close_sessions(self) -> Awaitable[None]:
        """Close every session (flushing its last transcript) and its models, once.

        Shielded: the relay's end and the job's cleanup may both wait for it, and a cancelled
        waiter must not leave a session half closed.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_sessions_once())
        return asyncio.shield(self._closing)

    async def _close_sessions_once(self) -> None:
        # the first agent's (the job's primary) last
        for seat in reversed(self.seats.values()):
            session = seat.session
            if session is None:
                continue
            with contextlib.suppress(Exception):
                await session.aclose()
            # the session does not own its models: close them so no HTTP session leaks
            for model in (session.llm, session.tts):
                if model is not None:
                    with contextlib.suppress(Exception):
                        await model.aclose()

    async def _settle(self) -> None:
        """Wait until each agent has received every other's final lines and last session event.

        What another agent received, the server has and forwards to every subscriber, the
        observer included, whatever the sender does next; what is still on its way when a
        participant leaves is lost (see :mod:`agents.room_receipts`). Bounded: a peer that is
        gone or a server that is gone cannot hold the job.
        """
        seats = list(self.seats.values())
        # the session events, and the attribute that lets an observer recover a cut last line
        # (agents.said_lines): independent, so at once
        with contextlib.suppress(TimeoutError):  # a removed agent's writes are never answered
            async with asyncio.timeout(SETTLE_TIMEOUT_S):
                await asyncio.gather(
                    *(seat.publisher.flush() for seat in seats),
                    *(seat.said.flush() for seat in seats),
                )
        connected = all(seat.room.isconnected() for seat in seats)
        if connected and not await receive_everything(seats, SETTLE_TIMEOUT_S):
            logger.warning(
                "Room %s: the agents leave before the server confirmed their last lines "
                "(waited %.0f s); an observer may miss them",
                self.room_name,
                SETTLE_TIMEOUT_S,
            )
        # The server has it all now (or nobody is left to confirm it). A busy observer can still
        # hear of a departure before the last data reaches it (the leave and the data travel on
        # different channels, and the SDK cuts a departed sender's open streams): stay a moment.
        await asyncio.sleep(DEPARTURE_GRACE_S)


async def entrypoint(ctx: JobContext, *, config: WorkerConfig) -> None:
    """The job: start every agent, then let the relay run the call until it or the room ends."""
    await CallJob(ctx, config).run()
