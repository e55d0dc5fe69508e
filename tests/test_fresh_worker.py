"""A freshly started in-process worker given several calls at once.

livekit rtc 1.1.21 creates its FFI client lazily and without a lock. Job threads starting
together in a fresh process could each create one, and a room connecting through a discarded
one waited forever for its ConnectCallback until the FFI panicked and SIGTERMed the process
(about 1 fresh worker in 2 died on 5 simultaneous calls). ``build_server`` now creates the
client first, on the caller's thread. Without that, the end-to-end test below failed 1 run in
4; the subprocess check fails every time.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PROJECT, create_dispatched_room, delete_room_quietly, scaled
from livekit import api

from agents.constants import AGENT_NAME
from agents.multi_agent_worker import default_scenario
from tui.core.local_server import LocalServer
from tui.core.worker_host import WorkerHost

SIMULTANEOUS_CALLS = 5
START_TIMEOUT_S = 30.0

BUILD_AND_REPORT = """
import os
from livekit.agents import JobExecutorType
from agents.compat import rtc_client_exists
from agents.multi_agent_worker import build_server
build_server(voice="offline", ws_url="ws://127.0.0.1:1", api_key="k", api_secret="s",
             executor=JobExecutorType.{executor})
print(rtc_client_exists(), flush=True)
# skip interpreter teardown: a native runtime started a moment ago can abort it (rtc 1.1.21)
os._exit(0)
"""


@pytest.mark.parametrize(("executor", "created"), [("THREAD", "True"), ("PROCESS", "False")])
def test_build_server_creates_the_rtc_client_only_for_thread_jobs(
    executor: str, created: str
) -> None:
    # a process of its own: this test process created its client long ago
    result = subprocess.run(
        [sys.executable, "-c", BUILD_AND_REPORT.format(executor=executor)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == created


@pytest.mark.e2e
async def test_a_fresh_worker_starts_simultaneous_calls_and_survives(
    own_server: LocalServer, tmp_path: Path
) -> None:
    # a server of its own: its dispatcher has never been told there is no worker for the name
    scenario = default_scenario()
    names = [f"fresh_{i}_{secrets.token_hex(3)}" for i in range(SIMULTANEOUS_CALLS)]
    async with (
        WorkerHost(own_server, tmp_path) as host,
        api.LiveKitAPI(own_server.url, own_server.api_key, own_server.api_secret) as lkapi,
    ):
        try:
            # listen to each room before its agents are dispatched: session events are not
            # replayed to late joiners
            await asyncio.gather(*(create_dispatched_room(lkapi, n, scenario, ()) for n in names))
            await asyncio.gather(*(host.watch(n) for n in names))
            # the first jobs this worker process ever runs, all at once
            await asyncio.gather(
                *(
                    lkapi.agent_dispatch.create_dispatch(
                        api.CreateAgentDispatchRequest(
                            agent_name=AGENT_NAME, room=n, metadata=scenario.to_json()
                        )
                    )
                    for n in names
                )
            )
            # both sessions of every call; returns early if the worker dies
            await host.wait_for(names, "session_started", scaled(START_TIMEOUT_S), count=2)
            started = {n: len(host.of(n, "session_started")) for n in names}
            assert host.exit_code is None, host.crash_lines()
            assert started == dict.fromkeys(names, 2)
        finally:
            for name in names:
                await delete_room_quietly(lkapi, name)
