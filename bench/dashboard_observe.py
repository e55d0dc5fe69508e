"""Benchmark 3, second half: the dashboard's CPU while observing a call.

The CPU time of this process over one whole call, three ways: the dashboard with its
in-process worker (what ``dispatch-tui`` costs by default), the dashboard with the worker in
another process (the dashboard's own cost, the issue's target), and the bare ``RoomObserver``
with a trivial sink (the floor any dashboard pays). The app runs headless as in
``bench.dashboard_load``; :func:`bench.dashboard_load.checks` holds the targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livekit import api
from textual.message import Message

from agents.constants import AGENT_NAME
from agents.tokens import observer_token
from bench.common import ResourceMonitor, bench_scenario
from bench.dashboard_load import APP_SIZE, dashboard_options, until
from bench.time_to_agents import create_room, delete_room
from tui.core.backend import OBSERVER_LEVEL_INTERVAL_S
from tui.core.events import DomainEvent, SessionEvent
from tui.core.log_bridge import LogCapture
from tui.core.observer import RoomObserver
from tui.ui.app import DispatchApp
from tui.ui.messages import DomainEventMessage

CALL_TIMEOUT_S = 90.0
OBSERVE_SAMPLE_S = 0.5
"""RSS sampling period while measuring a call's CPU: every sample is a thread hop and a /proc
read in the measured process; at 50 ms that alone was 0.9 % of a core, charged to the dashboard."""


async def _dashboard_call(
    url: str,
    api_key: str,
    api_secret: str,
    *,
    worker: bool,
    log_dir: Path,
) -> dict[str, Any]:
    """Create a call from the dashboard (as ``n`` would) and measure this process until it ends."""
    scenario_dir = Path(tempfile.mkdtemp(prefix="bench-scenario-", dir=log_dir))
    scenario_path = scenario_dir / "bench.json"
    scenario_path.write_text(bench_scenario().to_json())
    ended = asyncio.Event()

    def hook(message: Message) -> None:
        # session events reach the app through the room, like every other domain event
        if (
            isinstance(message, DomainEventMessage)
            and isinstance(message.event, SessionEvent)
            and message.event.kind == "conversation_ended"
        ):
            ended.set()

    name = "dashboard+worker" if worker else "dashboard"
    capture = LogCapture(log_dir / f"{name}.log", secrets=[api_secret])
    capture.start()
    try:
        app = DispatchApp(dashboard_options(url, api_key, api_secret, worker=worker), capture)
        async with app.run_test(size=APP_SIZE, message_hook=hook) as pilot:
            await until(lambda: app.server_status.state == "ready", 20, "server ready")
            if worker:
                await until(lambda: app.worker_status.state == "registered", 30, "worker")
            await pilot.pause(0.5)
            async with ResourceMonitor(
                os.getpid(), interval_s=OBSERVE_SAMPLE_S, children=False
            ) as usage:
                # the action behind the scenario picker's choice
                app.controls.create_room(scenario_path)
                await until(lambda: app.backend.observed_room is not None, 10, "room observed")
                room = app.backend.observed_room
                assert room is not None
                # the dashboard's own observer hears the end: no second listener in the
                # process being measured
                finished = await _wait(ended, CALL_TIMEOUT_S)
            # final lines the dashboard's state holds: the call was really shown
            transcripts = sum(
                sum(1 for line in view.transcript if line.final) for view in app.state.agents()
            )
            with contextlib.suppress(Exception):
                await app.backend.delete_room(room)
    finally:
        capture.close()
    assert usage.result is not None
    return {"finished": finished, "transcripts": transcripts, **usage.result.as_dict()}


async def _observer_call(url: str, api_key: str, api_secret: str) -> dict[str, Any]:
    """The bare observer with a sink that only counts, over one call (served by a worker in
    another process)."""
    scenario = bench_scenario()
    name = f"bench_observer_only_{os.getpid()}_{int(time.time())}"
    counted = 0
    ended = asyncio.Event()

    def sink(event: DomainEvent) -> None:
        nonlocal counted
        counted += 1
        if isinstance(event, SessionEvent) and event.kind == "conversation_ended":
            ended.set()

    lkapi = api.LiveKitAPI(url, api_key, api_secret)
    try:
        async with ResourceMonitor(
            os.getpid(), interval_s=OBSERVE_SAMPLE_S, children=False
        ) as usage:
            await create_room(lkapi, name, scenario, (AGENT_NAME,))
            token = observer_token(api_key, api_secret, name)
            # metered like the dashboard's own observer, so this is the floor it pays
            async with RoomObserver(
                url, token, name, sink, level_interval_s=OBSERVER_LEVEL_INTERVAL_S
            ):
                finished = await _wait(ended, CALL_TIMEOUT_S)
        await delete_room(lkapi, name)
    finally:
        await lkapi.aclose()
    assert usage.result is not None
    return {"finished": finished, "events": counted, **usage.result.as_dict()}


async def observe_costs(
    url: str,
    api_key: str,
    api_secret: str,
    *,
    log_dir: Path,
    progress: Callable[[str], None] = print,
    observer_only: bool = True,
    calls: int = 3,
) -> dict[str, Any]:
    """Dashboard-only CPU, the median of ``calls`` calls, and (unless disabled) observer-only
    CPU over one call.

    One call's figure varies by about a point of a core from run to run on a 2-core VM (what
    else the machine does in those 20 s), which is a tenth of the target: the median of three
    is the figure to compare, and every run's figure is kept.
    """
    runs = [
        await _dashboard_call(url, api_key, api_secret, worker=False, log_dir=log_dir)
        for _ in range(calls)
    ]
    runs.sort(key=lambda run: float(run["cpu_percent_of_core"]))
    dashboard = {
        **runs[len(runs) // 2],
        "runs_cpu_percent_of_core": [run["cpu_percent_of_core"] for run in runs],
        "finished": all(run["finished"] for run in runs),
    }
    spread = ", ".join(f"{run['cpu_percent_of_core']:.1f}" for run in runs)
    progress(
        f"  dashboard observing: {dashboard['cpu_percent_of_core']:.1f}% of a core "
        f"(median of {len(runs)}: {spread})"
    )
    result = {"dashboard_only": dashboard}
    if observer_only:
        observer = await _observer_call(url, api_key, api_secret)
        progress(f"  observer alone:      {observer['cpu_percent_of_core']:.1f}% of a core")
        result["observer_only"] = observer
    return result


async def observe_with_worker(
    url: str,
    api_key: str,
    api_secret: str,
    *,
    log_dir: Path,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The default ``dispatch-tui``: dashboard and its in-process worker, over one call.

    Run it with no other worker registered for the agent name, or the server may dispatch the
    call elsewhere.
    """
    result = await _dashboard_call(url, api_key, api_secret, worker=True, log_dir=log_dir)
    progress(f"  dashboard + worker:  {result['cpu_percent_of_core']:.1f}% of a core")
    return result


async def _wait(event: asyncio.Event, timeout_s: float) -> bool:
    """Whether ``event`` was set within ``timeout_s``."""
    try:
        await asyncio.wait_for(event.wait(), timeout_s)
    except TimeoutError:
        return False
    return True
