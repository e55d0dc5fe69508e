"""The multi-agent worker: one job runs Tim (dispatcher) and Chris (driver) in the same room.

Tim is the job participant: ``on_request`` accepts the job with his identity, name and role
attribute. Chris joins through a second ``rtc.Room`` connected with a token minted in the job, so
the two sessions never share an identity, an ``lk.agent.state`` attribute or text-stream
handlers (docs/architecture.md, "Facts that shape the worker"). Neither session listens to
audio; the ``TurnRelay`` passes the floor.

Use ``build_server()`` to run the worker in-process (the dashboard: thread executor, started
with ``await server.run(devmode=True)`` and stopped with ``await server.aclose()``), or run this
file for the livekit CLI: ``python agents/multi_agent_worker.py dev`` or ``start``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # run as a script, the ``agents`` package is importable only with the project root on the
    # path; main() below then re-imports this file as ``agents.multi_agent_worker``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncio
import contextlib
import datetime
import functools
import logging
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from livekit import api, rtc
from livekit.agents import (
    AgentServer,
    AgentSession,
    JobContext,
    JobExecutorType,
    JobRequest,
    llm,
    room_io,
    tts,
)
from livekit.agents.utils import http_context

from agents.bundled import default_scenario_file
from agents.compat import ensure_rtc_client, job_server_url, warn_on_version_drift
from agents.constants import (
    AGENT_NAME,
    DEV_WORKER_CAPACITY,
    ROLE_ATTRIBUTE,
    WORKER_HOST_ATTRIBUTE,
    WORKER_ID_ATTRIBUTE,
    WORKER_PID_ATTRIBUTE,
)
from agents.dispatcher_agent import DispatcherAgent
from agents.driver_agent import DriverAgent
from agents.room_receipts import PeerReceipts
from agents.scenario import (
    ROLES,
    Role,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario_json,
)
from agents.session_publisher import SessionEventPublisher
from agents.tokens import agent_token
from agents.turn_relay import RelayParty, RelayResult, Turn, TurnRelay
from agents.voices import (
    VoiceConfigError,
    VoiceMode,
    build_realtime_model,
    build_session,
    describe_voice,
    resolve_voice_mode,
)

logger = logging.getLogger("multi_agent_worker")

CHRIS_TOKEN_TTL_S = 6 * 3600
SERVER_ROOM_UPDATE_INTERVAL_S = 5.0
"""livekit-server 1.13.5 stores a changed room on a 5 s tick (``roomUpdateInterval``)."""
ROOM_CHECK_TIMEOUT_S = 10.0
"""Bound on each server call checking the job's room (livekit-api sets none)."""
DRAIN_TIMEOUT_ENV = "DISPATCH_DRAIN_TIMEOUT"
DEFAULT_DRAIN_TIMEOUT_S = 2
"""How long the headless worker lets running calls go on after SIGTERM (see ``main``)."""

SETTLE_TIMEOUT_S = 5.0
"""How long a finished call waits for each agent to receive the other's last line and event."""
LONE_LINGER_S = 0.5
"""How long an agent whose peer is gone stays after its last event (no one can confirm it)."""

_ROLE_LABEL: dict[Role, str] = {"dispatcher": "Dispatcher", "driver": "Driver"}


def default_scenario() -> Scenario:
    """The bundled ``scenarios/hdx-2478.json`` (the one source of the default scenario)."""
    return load_scenario(default_scenario_file())


def scenario_for_job(job_metadata: str, room_metadata: str) -> Scenario:
    """The scenario from dispatch metadata, else room metadata, else the default."""
    for source, text in (("dispatch metadata", job_metadata), ("room metadata", room_metadata)):
        if text and text.strip():
            try:
                return parse_scenario_json(text, source)
            except ScenarioError as exc:
                logger.warning("%s; trying the next source", exc)
    return default_scenario()


@dataclass(frozen=True)
class WorkerConfig:
    """What every job of this worker needs (picklable: process executors send it to jobs)."""

    voice: VoiceMode
    ws_url: str = ""
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)


class _JobEvents:
    """Routes each session event to the publisher of its own agent's participant.

    Job-wide events (role ``""``) go out as Tim, the job participant. An agent whose room is not
    connected (Chris failed to join) has its events published by the other agent instead, so the
    observer still learns why. Never lets a publishing failure reach a session.
    """

    def __init__(self, publishers: Mapping[Role, SessionEventPublisher]) -> None:
        self._publishers = publishers

    def __call__(self, role: str, kind: str, payload: dict[str, Any]) -> None:
        own = self._publishers.get(role, self._publishers["dispatcher"])  # type: ignore[call-overload]
        publisher = own
        if not own.room.isconnected():
            connected = [p for p in self._publishers.values() if p.room.isconnected()]
            publisher = connected[0] if connected else own
        try:
            publisher.publish(role, kind, payload)
        except Exception:
            logger.exception("session event %s/%s not published", role, kind)


def _one_line(error: object) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def _attach_session_events(
    session: AgentSession[None], role: Role, events: Callable[[str, str, dict[str, Any]], None]
) -> None:
    """Forward state, metrics, errors and close of one session; log the first error clearly."""
    label = _ROLE_LABEL[role]
    logged_errors: set[str] = set()

    def on_state(ev: Any) -> None:
        events(role, "agent_state", {"old_state": ev.old_state, "new_state": ev.new_state})

    def on_metrics(metrics: Any) -> None:
        kind = getattr(metrics, "type", "")
        payload: dict[str, Any] = {"duration": getattr(metrics, "duration", None)}
        if kind == "llm_metrics":
            payload.update(type="llm", ttft=metrics.ttft)
        elif kind == "tts_metrics":
            payload.update(type="tts", ttfb=metrics.ttfb)
        elif kind == "realtime_model_metrics":
            payload.update(type="realtime", ttft=metrics.ttft)
        else:
            return
        events(role, "metrics", payload)

    def on_error(ev: Any) -> None:
        error = getattr(ev, "error", ev)
        inner = getattr(error, "error", error)
        recoverable = bool(getattr(error, "recoverable", False))
        message = _one_line(inner)
        if "401" in message or "invalid_api_key" in message:
            message += " (the OpenAI API key was rejected: check OPENAI_API_KEY)"
        source = type(getattr(ev, "source", None)).__name__
        events(role, "error", {"error": message, "source": source, "recoverable": recoverable})
        if recoverable:
            # the framework already warns about each retry; the failure is the last error
            logger.debug("%s session error from %s (retrying): %s", label, source, message)
            return
        # a rejected key can repeat the same failure: one clear line is enough
        key = f"{source}:{message}"
        if key not in logged_errors:
            logged_errors.add(key)
            logger.error("%s session error from %s: %s", label, source, message)

    def on_close(ev: Any) -> None:
        error = getattr(ev, "error", None)
        reason = getattr(getattr(ev, "reason", None), "value", str(getattr(ev, "reason", "")))
        events(
            role,
            "session_closed",
            {"reason": reason, "error": _one_line(error.error) if error is not None else None},
        )

    session.on("agent_state_changed", on_state)
    # AgentSession's own metrics_collected is deprecated in 1.8.9 (it warns); the models still
    # emit theirs. A realtime model's per-turn timings arrive with each "turn" event instead.
    for model in (session.llm, session.tts):
        if isinstance(model, llm.LLM | tts.TTS):
            model.on("metrics_collected", on_metrics)
    session.on("error", on_error)
    session.on("close", on_close)


def agent_room_options(other_identity: str) -> room_io.RoomOptions:
    """Link to the other agent only; no audio or text input: the relay does turn-taking."""
    return room_io.RoomOptions(
        participant_kinds=[rtc.ParticipantKind.PARTICIPANT_KIND_AGENT],
        participant_identity=other_identity,
        close_on_disconnect=False,
        audio_input=False,
        text_input=False,
        audio_output=True,
        text_output=True,
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


def _turn_payload(turn: Turn) -> dict[str, Any]:
    metrics = turn.metrics
    return {
        "index": turn.index,
        "text": turn.text,
        "started_speaking_at": turn.started_speaking_at,
        "stopped_speaking_at": turn.stopped_speaking_at,
        "llm_node_ttft": metrics.get("llm_node_ttft"),
        "tts_node_ttfb": metrics.get("tts_node_ttfb"),
        "e2e_latency": metrics.get("e2e_latency"),
    }


class _CallJob:
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
        self.events = _JobEvents(self.publishers)
        # Tim's room hosts LiveKit's own session channel; Chris's room only overhears it
        self.receipts: dict[Role, PeerReceipts] = {
            "dispatcher": PeerReceipts(ctx.room),
            "driver": PeerReceipts(self.chris_room, read_livekit_session=True),
        }
        self.turns_said: dict[Role, int] = {role: 0 for role in ROLES}
        self.sessions: dict[Role, AgentSession[None]] = {}
        self.relay_task: asyncio.Task[RelayResult | None] | None = None
        self._cleaned = False
        self._closing: asyncio.Future[None] | None = None
        self._connect_started: dict[rtc.Room, float] = {}

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
                _attach_session_events(self.sessions[role], role, self.events)
        except VoiceConfigError as exc:
            # one line, no traceback: the same cause stops both agents
            logger.error("✗ Agent sessions not started: %s", exc)
            for role in ROLES:
                self.events(role, "session_failed", {"error": str(exc)})
            self.ctx.shutdown(reason=f"voice unavailable: {exc}")
            return

        # A job can start after its room was deleted, or be dispatched by a deleted room's
        # resurrected copy (see _joined_a_recreated_room): joining would re-create the room.
        if not await self._room_is_live():
            self.ctx.shutdown(reason="room deleted before the agents joined")
            return
        # with participant_identity set, RoomIO needs a connected room before start(). The two
        # joins overlap: Tim's session publishes its track only once Chris is in the room, so
        # Chris joining after Tim put a whole join on the way to the first words.
        chris_joined = asyncio.ensure_future(self._join_chris())
        try:
            await self._connect(self.ctx.room, self.ctx.connect())
            recreated = await self._joined_a_recreated_room(self.ctx.room)
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

    async def _connect(self, room: rtc.Room, connect: Awaitable[None]) -> None:
        """Await a room's connect; if the job is cancelled meanwhile, finish it, leave, re-raise.

        livekit rtc 1.1.21: a ``Room.connect()`` cancelled after the server accepted the join
        never tells the FFI it is ready for room events; the FFI then panics and the SDK sends
        SIGTERM to the whole process, which is the dashboard with the in-process worker. A room
        deleted right after its creation cancels the job exactly there (tests/test_leaks.py).
        """
        self._connect_started[room] = time.monotonic()
        task = asyncio.ensure_future(connect)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
                # the join may have re-created the deleted room that cancelled us
                await self._joined_a_recreated_room(room)
            with contextlib.suppress(Exception):
                await room.disconnect()
            raise

    async def _joined_a_recreated_room(self, room: rtc.Room) -> bool:
        """True, after leaving ``room`` and deleting what is left of it, if the room the job
        was dispatched to was deleted while ``room`` joined it.

        Servers create rooms on join, so a join that comes after the deletion re-creates the
        room with a new sid. One that lands while livekit-server 1.13.5 is still deleting it
        does worse (livekit/livekit#4726): the join reloads the stored room, so the copy has
        the old sid, metadata and dispatches (the agents are dispatched to it again), and the
        finishing deletion then drops it from the server's room map, so nothing ever closes it
        (not DeleteRoom, not its empty timeout) and it stores itself in the room list again
        whenever its participants change. Only ``_room_is_live`` tells it apart.

        Finishes even if the job is cancelled meanwhile (the framework cancels an entrypoint
        15 s into a shutdown, and a retried join can take that long), then re-raises.
        """
        if not room.isconnected():
            return False
        check = asyncio.ensure_future(self._leave_if_deleted(room))
        try:
            return await asyncio.shield(check)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await check
            raise

    async def _leave_if_deleted(self, room: rtc.Room) -> bool:
        if await self._room_is_live():
            return False
        logger.warning("Room %s was deleted while the agents joined; leaving", self.room_name)
        with contextlib.suppress(Exception):
            await room.disconnect()
        # A copy resurrected by our join stores itself on 5 s ticks from its creation (during
        # the join) when it differs from what it last stored: left before its first tick, it is
        # back as created and never stores itself. Otherwise it stores itself again up to two
        # ticks after we left, and that entry must go too.
        stayed_s = time.monotonic() - self._connect_started.get(room, 0.0)
        if stayed_s >= SERVER_ROOM_UPDATE_INTERVAL_S - 1:
            watch_s = 2 * SERVER_ROOM_UPDATE_INTERVAL_S + 1
        else:
            watch_s = 0.0
        deadline = time.monotonic() + watch_s
        while True:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(ROOM_CHECK_TIMEOUT_S):
                    lkapi = self._server_api()
                    listed = await lkapi.room.list_rooms(
                        api.ListRoomsRequest(names=[self.room_name])
                    )
                    if listed.rooms:
                        await lkapi.room.delete_room(api.DeleteRoomRequest(room=self.room_name))
            if time.monotonic() >= deadline:
                return True
            await asyncio.sleep(0.5)

    def _server_api(self) -> api.LiveKitAPI:
        """The server API with this worker's own URL and credentials, on the job's session.

        Not ``ctx.api``: it reads the process environment, which another in-process worker
        (tests run several) may have pointed at another server.
        """
        return api.LiveKitAPI(
            job_server_url(self.ctx) or self.config.ws_url or None,
            self.config.api_key or None,
            self.config.api_secret or None,
            session=http_context.http_session(),
        )

    async def _room_is_live(self) -> bool:
        """Whether the server still serves the room this job was dispatched to.

        The room must be listed with the dispatched sid and still hold this job's dispatch:
        a copy resurrected by a join (see ``_joined_a_recreated_room``) keeps the sid but is
        not in the server's room map, and its dispatches have new ids.
        """
        job = self.ctx.job
        try:
            async with asyncio.timeout(ROOM_CHECK_TIMEOUT_S):
                lkapi = self._server_api()
                listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[self.room_name]))
                if not any(r.sid == job.room.sid or not job.room.sid for r in listed.rooms):
                    return False
                if not job.dispatch_id:
                    return True
                dispatches = await lkapi.agent_dispatch.list_dispatch(self.room_name)
        except api.ServerError as exc:
            # the server answered that it cannot serve the room (not found, or nobody to ask)
            logger.info("Room %s is gone: %s", self.room_name, _one_line(exc.message or exc))
            return False
        except Exception as exc:
            # the server could not be asked: do not abandon a call that may be fine
            logger.warning("Could not check room %s: %s", self.room_name, _one_line(exc))
            return True
        return any(d.id == job.dispatch_id for d in dispatches)

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
        await self._connect(self.chris_room, self.chris_room.connect(url, token))
        if await self._joined_a_recreated_room(self.chris_room):
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
        label = _ROLE_LABEL[role]
        if isinstance(result, BaseException):
            logger.error("✗ %s agent session failed to start: %s", label, _one_line(result))
            self.events(role, "session_failed", {"error": _one_line(result)})
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
            logger.error("Conversation failed: %s", _one_line(exc))
            self.events(
                "", "conversation_ended", {"reason": "error", "turns": 0, "detail": str(exc)}
            )
            self.ctx.shutdown(reason=f"conversation failed: {_one_line(exc)}")
            return None

    async def _run_relay(self) -> RelayResult:
        tim, chris = self.sessions["dispatcher"], self.sessions["driver"]
        # each session publishes its track once the other agent is linked: start talking only
        # when both are ready, so Tim's first words are not spoken into an unpublished track
        await asyncio.gather(tim.room_io.wait_for_ready(), chris.room_io.wait_for_ready())

        def on_turn(turn: Turn) -> None:
            logger.info("%s: %s", self.scenario.persona(turn.role).name, turn.text)
            self.turns_said[turn.role] += 1
            self.events(turn.role, "turn", _turn_payload(turn))

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
        rooms: dict[Role, rtc.Room] = {"dispatcher": self.ctx.room, "driver": self.chris_room}
        if not all(room.isconnected() for room in rooms.values()):
            # nobody left to confirm: give what was just written a moment on the wire
            await asyncio.sleep(LONE_LINGER_S)
            return
        waits = []
        pairs: tuple[tuple[Role, Role], ...] = (("dispatcher", "driver"), ("driver", "dispatcher"))
        for sender, receiver in pairs:
            waits.append(
                self.receipts[receiver].wait_for(
                    rooms[sender].local_participant.identity,
                    finals=self.turns_said[sender],
                    seq=self.publishers[sender].last_seq,
                    timeout_s=SETTLE_TIMEOUT_S,
                )
            )
        delivered = await asyncio.gather(*waits)
        if not all(delivered):
            logger.warning(
                "Room %s: the agents leave before the server confirmed their last lines "
                "(waited %.0f s); an observer may miss them",
                self.room_name,
                SETTLE_TIMEOUT_S,
            )


async def entrypoint(ctx: JobContext, *, config: WorkerConfig) -> None:
    """The job: start both agents, then let the relay run the call until it or the room ends."""
    await _CallJob(ctx, config).run()


async def handle_request(req: JobRequest, *, worker_id: Callable[[], str] | None = None) -> None:
    """Accept every dispatch as Tim, with the identity and name from the scenario if given.

    ``worker_id()`` is the id the server gave this worker when it registered: the same value
    the job's ``JobContext.worker_id`` will carry, read here so that Tim joins with it.
    """
    scenario = scenario_for_job(req.job.metadata, req.room.metadata)
    tim = scenario.dispatcher
    # The worker's process, host and server-side id, so a dashboard can say which worker runs
    # the call and tie the server's job list (worker ids only) to a process.
    attributes = {
        ROLE_ATTRIBUTE: "dispatcher",
        WORKER_PID_ATTRIBUTE: str(os.getpid()),
        WORKER_HOST_ATTRIBUTE: socket.gethostname(),
    }
    if worker_id is not None:
        attributes[WORKER_ID_ATTRIBUTE] = worker_id()
    await req.accept(identity=tim.identity, name=tim.name, attributes=attributes)


def job_count_load(capacity: int) -> Callable[[AgentServer], float]:
    """A load function counting calls instead of CPU.

    livekit-server only sends a job to workers reporting a load under its own target (0.7),
    whatever the worker's ``load_threshold``; the default load is the whole machine's CPU, so a
    busy development machine (or several workers on one machine) silently stops getting jobs.
    """

    def load(server: AgentServer) -> float:
        return min(1.0, len(server.active_jobs) / capacity)

    return load


def worker_capacity(env: Mapping[str, str] | None = None) -> int | None:
    """``$DISPATCH_WORKER_CAPACITY`` (calls per worker), or None to use the CPU-based load."""
    raw = (os.environ if env is None else env).get("DISPATCH_WORKER_CAPACITY", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise VoiceConfigError(
            f"DISPATCH_WORKER_CAPACITY={raw!r} is not a positive whole number: "
            "set it to the calls one worker may run at once, or unset it"
        )
    return int(raw)


def start_rtc_runtime() -> None:
    """Create this process's livekit-rtc FFI client now, on this thread, before any job thread.

    livekit rtc 1.1.21 creates it on first use without a lock (``FfiClient.instance``). Calls
    dispatched at once to a fresh thread-executor worker could each create one; the native
    runtime then delivers every event to the last one, so a room that connected through an
    earlier one never heard its ConnectCallback, and 15 s later the FFI panicked and SIGTERMed
    the whole process (1 fresh worker in 2 died on 5 simultaneous calls). Process executors
    must not do this: the client cannot cross a fork, and their job processes run one job.
    """
    ensure_rtc_client()


def build_server(
    *,
    voice: str | None = None,
    devmode: bool = True,
    ws_url: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    executor: JobExecutorType = JobExecutorType.THREAD,
    host: str = "127.0.0.1",
    port: int = 0,
    capacity: int | None = None,
) -> AgentServer:
    """An ``AgentServer`` running the two-agent job for ``AGENT_NAME`` dispatches.

    ``voice`` is ``realtime`` or ``offline``; None reads ``DISPATCH_VOICE`` and otherwise picks
    realtime when ``OPENAI_API_KEY`` is set. Raises VoiceConfigError (one-line message) for an
    unknown voice or realtime without a key. Credentials default to ``LIVEKIT_URL``,
    ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET``. ``devmode`` disables load shedding (pass
    the same value to ``server.run(devmode=...)``). The health endpoint listens on ``host``:``port``
    (loopback, a free port). Each agent publishes its session events on its own participant
    (:mod:`agents.session_wire`): observers read them from the room, in-process or not.
    ``capacity`` (else ``$DISPATCH_WORKER_CAPACITY``; in-process workers default to
    ``DEV_WORKER_CAPACITY``) makes the reported load the share of calls in use instead of the
    machine's CPU.
    """
    warn_on_version_drift()
    mode = resolve_voice_mode(voice)
    capacity = capacity or worker_capacity()
    if capacity is None and executor == JobExecutorType.THREAD:
        capacity = DEV_WORKER_CAPACITY
    if mode == "realtime":
        # fail here, once and clearly, rather than in every job
        build_realtime_model(default_scenario().dispatcher)
    if executor == JobExecutorType.THREAD:
        start_rtc_runtime()
    config = WorkerConfig(
        voice=mode,
        ws_url=ws_url or "",
        api_key=api_key or "",
        api_secret=api_secret or "",
    )
    server = AgentServer(
        job_executor_type=executor,
        ws_url=ws_url,
        api_key=api_key,
        api_secret=api_secret,
        host=host,
        port=port,
        # threads are started per job; an idle one waiting would outlive every call
        num_idle_processes=0 if executor == JobExecutorType.THREAD else 1,
        # a development worker takes every dispatch whatever the machine's load
        load_threshold=math.inf if devmode else 0.7,
        load_fnc=job_count_load(capacity) if capacity else None,
    )
    server.rtc_session(
        functools.partial(entrypoint, config=config),
        agent_name=AGENT_NAME,
        on_request=functools.partial(handle_request, worker_id=lambda: server.id),
    )
    return server


def main() -> None:
    """``python agents/multi_agent_worker.py dev|start``: the livekit CLI, headless."""
    from livekit.agents import cli

    try:
        server = build_server(executor=JobExecutorType.PROCESS)
        drain_timeout = _drain_timeout_s(os.environ)
    except ValueError as exc:  # VoiceConfigError, or a bad DISPATCH_DRAIN_TIMEOUT
        raise SystemExit(f"error: {exc}") from None
    # `start` drains on SIGTERM/Ctrl-C: it waits for running calls, by default for up to an
    # hour, so a stop during a conversation would hang that long. The calls are short and
    # can be dispatched again: wait briefly, then close every job (sessions, Chris's room).
    server.update_options(drain_timeout=drain_timeout)
    cli.run_app(server)


def _drain_timeout_s(environ: Mapping[str, str]) -> int:
    """Seconds ``start`` waits for running calls on shutdown: ``$DISPATCH_DRAIN_TIMEOUT``."""
    text = environ.get(DRAIN_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_DRAIN_TIMEOUT_S
    if not text.isdigit():
        raise ValueError(f"{DRAIN_TIMEOUT_ENV}={text!r}: use a whole number of seconds")
    return int(text)


__all__ = [
    "WorkerConfig",
    "build_server",
    "default_scenario",
    "entrypoint",
    "handle_request",
    "scenario_for_job",
]

if __name__ == "__main__":
    # the job entrypoint must be importable by name in job processes, not as ``__main__``
    from agents.multi_agent_worker import main as _package_main

    _package_main()
