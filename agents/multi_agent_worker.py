"""The multi-agent worker: one job runs a scenario's agents (Tim and Chris, or up to six) in one
room.

The first agent (Tim) is the job participant: ``on_request`` accepts the job with his identity,
name and role attribute. Every other agent joins through an ``rtc.Room`` of its own connected
with a token minted in the job, so no two sessions share an identity, an ``lk.agent.state``
attribute or text-stream handlers (docs/architecture.md, "Facts that shape the worker"). No
session listens to audio; the ``TurnRelay`` moderates the floor.

Use ``build_server()`` to run the worker in-process (the dashboard: thread executor, started
with ``await server.run(devmode=True)`` and stopped with ``await server.aclose()``), or run this
file for the livekit CLI: ``python agents/multi_agent_worker.py dev`` or ``start``.

The worker's parts: ``agents.worker_server`` (``build_server()``, the request handler, the load),
``agents.call_job`` (the job: every session, the agents' rooms, the relay), ``agents.call_seats``
(one agent's room, session and receipts), ``agents.room_guard`` (the
room-liveness guard), ``agents.session_events`` (session events to the room) and
``agents.scenario_source`` (which scenario a job plays). This module is the entry point and
re-exports their public names.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # run as a script, the ``agents`` package is importable only with the project root on the
    # path; main() below then re-imports this file as ``agents.multi_agent_worker``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os
from collections.abc import Mapping

from livekit.agents import JobExecutorType

from agents.call_job import entrypoint
from agents.call_seats import agent_room_options
from agents.scenario_source import default_scenario, scenario_for_job
from agents.session_events import attach_session_events as _attach_session_events
from agents.worker_config import WorkerConfig
from agents.worker_server import (
    build_server,
    handle_request,
    job_count_load,
    start_rtc_runtime,
    worker_capacity,
)

DRAIN_TIMEOUT_ENV = "DISPATCH_DRAIN_TIMEOUT"
DEFAULT_DRAIN_TIMEOUT_S = 2
"""How long the headless worker lets running calls go on after SIGTERM (see ``main``)."""


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
    # can be dispatched again: wait briefly, then close every job (sessions, the agents' rooms).
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
    "_attach_session_events",
    "agent_room_options",
    "build_server",
    "default_scenario",
    "entrypoint",
    "handle_request",
    "job_count_load",
    "main",
    "scenario_for_job",
    "start_rtc_runtime",
    "worker_capacity",
]

if __name__ == "__main__":
    # the job entrypoint must be importable by name in job processes, not as ``__main__``
    from agents.multi_agent_worker import main as _package_main

    _package_main()
