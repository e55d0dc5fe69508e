"""The alternative a user would usually build: one worker per agent, one agent per job.

``BENCH_ROLE=dispatcher python bench/single_agent_worker.py start`` registers agent name
``bench-dispatcher`` (``driver``: ``bench-driver``) and runs ONE ``AgentSession`` per job with the
same offline voice, personas and room options as the multi-agent worker. A room gets both agents
through two ``RoomAgentDispatch`` entries, so the two jobs are dispatched independently and each
joins as its own job participant, in its own job process.

Only the start of the call is modelled: Tim says his first line once Chris is linked (his
session, like the multi-agent one, publishes its track only then). Turn-taking across two
processes would need more machinery and is not what this benchmark compares.

Everything is the livekit CLI's production default (process executor, prewarmed idle
processes) except what a benchmark needs: the health server binds 127.0.0.1 on a free port,
and the worker reports its load as calls in use (``job_count_load``, like the multi-agent
worker) with no load shedding. livekit-server itself only sends jobs to workers reporting a load
under 0.7, and the default load is the machine's CPU: on a 2-core machine shared with other test
runs the single-agent workers then got no rooms at all, and the comparison measured the
neighbours instead of dispatch.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # run as a script: make ``agents`` and ``bench`` importable (also in job processes, which
    # inherit sys.path); main() below then re-imports this file as ``bench.single_agent_worker``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib
import functools
import math
import os

from livekit.agents import Agent, AgentServer, JobContext, JobRequest

from agents.constants import DEV_WORKER_CAPACITY, ROLE_ATTRIBUTE
from agents.dispatcher_agent import DispatcherAgent
from agents.driver_agent import DriverAgent
from agents.multi_agent_worker import agent_room_options, job_count_load, scenario_for_job
from agents.scenario import Role
from agents.voices import build_session

ROLE_ENV = "BENCH_ROLE"
AGENT_NAMES: dict[Role, str] = {"dispatcher": "bench-dispatcher", "driver": "bench-driver"}


def _other(role: Role) -> Role:
    return "driver" if role == "dispatcher" else "dispatcher"


async def entrypoint(ctx: JobContext, *, role: Role) -> None:
    """One agent: start its session, and for Tim say the first line once Chris is linked."""
    scenario = scenario_for_job(ctx.job.metadata, ctx.job.room.metadata)
    session = build_session("offline", scenario, role)
    agent: Agent = DispatcherAgent(scenario) if role == "dispatcher" else DriverAgent(scenario)

    async def cleanup(_reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await session.aclose()
        for model in (session.llm, session.tts):
            if model is not None:
                with contextlib.suppress(Exception):
                    await model.aclose()

    ctx.add_shutdown_callback(cleanup)
    # with participant_identity set, RoomIO needs a connected room before start()
    await ctx.connect()
    await session.start(
        agent,
        room=ctx.room,
        room_options=agent_room_options(scenario.persona(_other(role)).identity),
        record=False,
    )
    if isinstance(agent, DispatcherAgent):
        await session.room_io.wait_for_ready()
        session.generate_reply(instructions=agent.opening_instructions())


async def handle_request(req: JobRequest, *, role: Role) -> None:
    """Accept as this role's persona (identity, name, role attribute), like the multi worker."""
    persona = scenario_for_job(req.job.metadata, req.room.metadata).persona(role)
    await req.accept(
        identity=persona.identity, name=persona.name, attributes={ROLE_ATTRIBUTE: role}
    )


def build_single_agent_server(role: Role) -> AgentServer:
    """An AgentServer for one role with CLI defaults, loopback health port, load by call count."""
    server = AgentServer(
        host="127.0.0.1",
        port=0,
        load_threshold=math.inf,
        load_fnc=job_count_load(DEV_WORKER_CAPACITY),
    )
    server.rtc_session(
        functools.partial(entrypoint, role=role),
        agent_name=AGENT_NAMES[role],
        on_request=functools.partial(handle_request, role=role),
    )
    return server


def main() -> None:
    """``BENCH_ROLE=dispatcher|driver python bench/single_agent_worker.py start``."""
    from livekit.agents import cli

    role = os.environ.get(ROLE_ENV, "")
    if role not in AGENT_NAMES:
        raise SystemExit(f"error: set {ROLE_ENV}=dispatcher or {ROLE_ENV}=driver")
    cli.run_app(build_single_agent_server("dispatcher" if role == "dispatcher" else "driver"))


if __name__ == "__main__":
    # the job entrypoint must be importable by name in job processes, not as ``__main__``
    from bench.single_agent_worker import main as _package_main

    _package_main()
