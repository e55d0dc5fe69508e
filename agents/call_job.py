"""One call: Tim (dispatcher) and Chris (driver) in the same room, from the job's start to its end.

Tim is the job participant. Chris joins through a second ``rtc.Room`` connected with a token
minted in the job, so the two sessions never share an identity, an ``lk.agent.state`` attribute
or text-stream handlers (docs/architecture.md, "Facts that shape the worker"). Neither session
listens to audio; the ``TurnRelay`` passes the floor. ``entrypoint`` is the job function the
worker runs (:mod:`agents.worker_server`); it stays a module-level function so process executors
can pickle it by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
from collections.abc import Awaitable
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, JobContext, room_io

from agents.compat import job_server_url
from agents.constants import ROLE_ATTRIBUTE
from agents.dispatcher_agent import DispatcherAgent
from agents.driver_agent import DriverAgent
from agents.room_guard import RoomGuard
from agents.room_receipts import PeerReceipts
from agents.scenario import ROLES, Role, Scenario
from agents.scenario_source import scenario_for_job
from agents.session_events import (
    ROLE_LABEL,
    JobEvents,
    attach_session_events,
    one_line,
    turn_payload,
)
from agents.session_publisher import SessionEventPublisher
from agents.tokens import agent_token
from agents.turn_relay import RelayParty, RelayResult, Turn, TurnRelay
from agents.voices import VoiceConfigError, build_session, describe_voice
from agents.worker_config import WorkerConfig

logger = logging.getLogger("multi_agent_worker")

CHRIS_TOKEN_TTL_S = 6 * 3600
SETTLE_TIMEOUT_S = 5.0
"""How long a finished call waits for each agent to receive the other's last line and event."""
DEPARTURE_GRACE_S = 1.0
"""How long the agents stay after the server has their last lines, before leaving: measured, a
starved observer (10 calls and a CPU burner on 2 cores) learned of a departure before the
departing agent's last transcript, which the SDK then cut (1 to 2 calls in 10 lost a line)."""


def agent_room_options(other_identity: str) -> room_io.RoomOptions:
    """Link to the other agent only; no audio or text input: the relay does turn-taking.

    Transcripts are sent as the text is produced, not paced to the audio: the SDK's
    synchronizer paces words by wall-clock on the job's loop, and on a starved loop (10 calls
    beside a CPU burner on 2 cores) it fell 8 s behind the audio and closed the segment with
    the line's last words unsent ("Great, thanks." for "Great, thanks. Goodbye."), in 1 to 2
    runs of 4. Every line whole matters more to a troubleshooting tool than word timing.
    """
    return room_io.RoomOptions(
        participant_kinds=[rtc.ParticipantKind.PARTICIPANT_KIND_AGENT],
        participant_identity=other_identity,
        close_on_disconnect=False,
        audio_input=False,
        text_input=False,
        audio_output=True,
        text_output=room_io.TextOutputOptions(sync_transcription=False),
    )


def _driver_token(config: WorkerConfig, scenario: Scenario, room_name: str) -> str:
    chris = scenario.driver
    return agent_token(
        config.api_key or os.environ.get("LIVEKIT_API_KEY", ""),
        config.api_secret or os.environ.get("LIVEKIT_API_SECRET", ""),
        room_name,
        chris.identity,
        chris.name,
        {ROLE_ATTRIBUTE: "driver"},
        ttl=datetime.timedelta(seconds=CHRIS_TOKEN_TTL_S),
    )


class CallJob:
    """One room's call: both sessions, Chris's room and the relay, with one cleanup path."""

    def __init__(self, ctx: JobContext, config: WorkerConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.room_name = ctx.job.room.name or ctx.room.name
        self.scenario = scenario_for_job(ctx.job.metadata, ctx.job.room.metadata)
        self.chris_room = rtc.Room()
        self.publishers: dict[Role, SessionEventPublisher] = {
            "dispatcher": SessionEventPublisher(ctx.room, self.scenario.dispatcher.name),
            "driver": SessionEventPublisher(self.chris_room, self.scenario.driver.name),
        }
        self.events = JobEvents(self.publishers)
        # Tim's room hosts LiveKit's own session channel; Chris's room only overhears it
        self.receipts: dict[Role, PeerReceipts] = {
            "dispatcher": PeerReceipts(ctx.room),
            "driver": PeerReceipts(self.chris_room, drop_livekit_session=True),
        }
        self.turns_said: dict[Role, int] = {role: 0 for role in ROLES}
        self.sessions: dict[Role, AgentSession[None]] = {}
        self.relay_task: asyncio.Task[RelayResult | None] | None = None
        self._cleaned = False
        self._closing: asyncio.Future[None] | None = None
        self.guard = RoomGuard(ctx, config, self.room_name)

    async def run(self) -> None:
        logger.info("=== MULTI-AGENT WORKER STARTING ===")
        logger.info("Room: %s", self.room_name)
        logger.info(
            "Scenario: %s (%s), voice: %s",
            self.scenario.load_id,
            self.scenario.source,
            self.config.voice,
        )
        self.ctx.add_shutdown_callback(self._cleanup)
        for receipts in self.receipts.values():
            receipts.start()
        # the room closing (deleted, or the server dropping us) must end the job too
        self.chris_room.on("disconnected", self._on_chris_room_disconnected)

        try:
            for role in ROLES:
                self.sessions[role] = build_session(self.config.voice, self.scenario, role)
                attach_session_events(self.sessions[role], role, self.events)
        except VoiceConfigError as exc:
            # one line, no traceback: the same cause stops both agents
            logger.error("✗ Agent sessions not started: %s", exc)
            for role in ROLES:
                self.events(role, "session_failed", {"error": str(exc)})
            self.ctx.shutdown(reason=f"voice unavailable: {exc}")
            return

        # A job can start after its room was deleted, or be dispatched by a deleted room's
        # resurrected copy (see RoomGuard.joined_a_recreated_room): joining would re-create the
        # room.
        if not await self.guard.room_is_live():
            self.ctx.shutdown(reason="room deleted before the agents joined")
            return
        # with participant_identity set, RoomIO needs a connected room before start(). The two
        # joins overlap: Tim's session publishes its track only once Chris is in the room, so
        # Chris joining after Tim put a whole join on the way to the first words.
        chris_joined = asyncio.ensure_future(self._join_chris())
        try:
            await self.guard.connect(self.ctx.room, self.ctx.connect())
            recreated = await self.guard.joined_a_recreated_room(self.ctx.room)
        except BaseException:
            # cancelled (the room was deleted) or failed: Chris's join must finish and leave too
            chris_joined.cancel()
            await asyncio.gather(chris_joined, return_exceptions=True)
            raise
        if recreated:
            # Chris's join sees the same deletion and leaves (or cleanup disconnects him)
            await asyncio.gather(chris_joined, return_exceptions=True)
            self.ctx.shutdown(reason="room deleted before the agents joined")
            return
        results = await asyncio.gather(
            self._start_tim(), self._start_chris(chris_joined), return_exceptions=True
        )
        started: dict[Role, bool] = {}
        for role, result in zip(ROLES, results, strict=True):
            started[role] = self._log_start(role, result)

        if all(started.values()):
            self.relay_task = asyncio.create_task(self._converse(), name="turn_relay")
        else:
            # the other agent stays in the room; nobody to talk to, so no relay
            logger.warning("No conversation: only one agent session started")

    async def _start_tim(self) -> rtc.Room:
        tim = self.sessions["dispatcher"]
        await tim.start(
            DispatcherAgent(self.scenario),
            room=self.ctx.room,
            room_options=agent_room_options(self.scenario.driver.identity),
            record=False,
        )
        return self.ctx.room

    async def _join_chris(self) -> None:
        """Connect Chris's own room (alongside Tim's join; see ``run``)."""
        url = job_server_url(self.ctx) or self.config.ws_url or os.environ.get("LIVEKIT_URL", "")
        token = _driver_token(self.config, self.scenario, self.room_name)
        await self.guard.connect(self.chris_room, self.chris_room.connect(url, token))
        if await self.guard.joined_a_recreated_room(self.chris_room):
            raise RuntimeError("the room was deleted before the driver joined")

    async def _start_chris(self, joined: Awaitable[None]) -> rtc.Room:
        chris = self.sessions["driver"]
        await joined
        await chris.start(
            DriverAgent(self.scenario),
            room=self.chris_room,
            room_options=agent_room_options(self.scenario.dispatcher.identity),
            record=False,
            # Tim's session is the job's primary; Chris only takes part in the room
            session_host=False,
        )
        return self.chris_room

    def _log_start(self, role: Role, result: rtc.Room | BaseException) -> bool:
        label = ROLE_LABEL[role]
        if isinstance(result, BaseException):
            logger.error("✗ %s agent session failed to start: %s", label, one_line(result))
            self.events(role, "session_failed", {"error": one_line(result)})
            return False
        local = result.local_participant
        logger.info("✓ %s agent session started", label)
        logger.info("Local participant identity: %s", local.identity)
        logger.info("Local participant name: %s", local.name)
        self.events(
            role,
            "session_started",
            {
                "identity": local.identity,
                "name": local.name,
                "voice": describe_voice(self.config.voice, self.scenario, role).as_dict(),
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
        tim, chris = self.sessions["dispatcher"], self.sessions["driver"]
        # each session publishes its track once the other agent is linked: start talking only
        # when both are ready, so Tim's first words are not spoken into an unpublished track
        await asyncio.gather(tim.room_io.wait_for_ready(), chris.room_io.wait_for_ready())

        def on_turn(turn: Turn) -> None:
            logger.info("%s: %s", self.scenario.persona(turn.role).name, turn.text)
            self.turns_said[turn.role] += 1
            self.events(turn.role, "turn", turn_payload(turn))

        relay = TurnRelay(
            RelayParty("dispatcher", tim),
            RelayParty("driver", chris),
            max_turns=self.scenario.max_turns,
            opening_instructions=DispatcherAgent(self.scenario).opening_instructions(),
            on_turn=on_turn,
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
        # Before the job ends: the framework disconnects Tim's room before any shutdown
        # callback runs, and a line still on its way when an agent leaves is lost.
        await self._close_sessions()
        await self._settle()
        self.ctx.shutdown(reason=f"conversation ended: {result.reason}")
        return result

    def _on_chris_room_disconnected(self, reason: Any = None) -> None:
        if self._cleaned:
            return
        if self.relay_task is not None and not self.relay_task.done():
            # Closing the sessions ends the relay, which reports the end of the call through
            # Tim while his room is still connected, then ends the job (see _run_relay).
            self._close_sessions()
        else:
            self.ctx.shutdown(reason="driver room disconnected")

    async def _cleanup(self, reason: str = "") -> None:
        """Runs once on every job shutdown: stop the relay, close sessions, leave Chris's room."""
        if self._cleaned:
            return
        self._cleaned = True
        self.chris_room.off("disconnected", self._on_chris_room_disconnected)
        if self.relay_task is not None and not self.relay_task.done():
            self.relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.relay_task
        await self._close_sessions()
        for publisher in self.publishers.values():
            await publisher.aclose()
        for receipts in self.receipts.values():
            await receipts.aclose()
        with contextlib.suppress(Exception):
            await self.chris_room.disconnect()
        logger.info("Job for room %s finished (%s)", self.room_name, reason or "shutdown")

    def _close_sessions(self) -> Awaitable[None]:
        """Close both sessions (flushing their last transcript) and their models, once.

        Shielded: the relay's end and the job's cleanup may both wait for it, and a cancelled
        waiter must not leave a session half closed.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_sessions_once())
        return asyncio.shield(self._closing)

    async def _close_sessions_once(self) -> None:
        for role in reversed(ROLES):
            session = self.sessions.get(role)
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
        """Wait until each agent has received the other's final lines and last session event.

        What the other agent received, the server has and forwards to every subscriber, the
        observer included, whatever the sender does next; what is still on its way when a
        participant leaves is lost (see :mod:`agents.room_receipts`). Bounded: a peer that is
        gone or a server that is gone cannot hold the job.
        """
        await asyncio.gather(*(p.flush() for p in self.publishers.values()))
        rooms = {role: publisher.room for role, publisher in self.publishers.items()}
        if all(room.isconnected() for room in rooms.values()):
            pairs: tuple[tuple[Role, Role], ...] = (
                ("dispatcher", "driver"),
                ("driver", "dispatcher"),
            )
            delivered = await asyncio.gather(
                *(
                    self.receipts[receiver].wait_for(
                        rooms[sender].local_participant.identity,
                        finals=self.turns_said[sender],
                        seq=self.publishers[sender].last_seq,
                        timeout_s=SETTLE_TIMEOUT_S,
                    )
                    for sender, receiver in pairs
                )
            )
            if not all(delivered):
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
    """The job: start both agents, then let the relay run the call until it or the room ends."""
    await CallJob(ctx, config).run()
