"""The runner of ``dispatch-tui run`` against a real livekit-server: real calls by the in-process
worker (offline voice), each watched and recorded by its own observer, at most ``concurrency``
at once; a dispatch nobody answers is an outcome naming it; the scheduling itself is checked
with timed stand-in work."""

from __future__ import annotations

import asyncio
import io
import os
import time
from datetime import datetime
from pathlib import Path

import pytest
from helpers import PROJECT, scaled

from agents.scenario import load_scenario
from tui.core.call_placer import CallLimits
from tui.core.call_runner import bounded, run_calls_async
from tui.core.contracts import judge_call
from tui.core.control_plane import ControlPlane
from tui.core.local_server import LocalServer
from tui.core.record.store import default_runs_dir
from tui.core.run_plan import RunPlan
from tui.core.run_progress import RunProgress
from tui.core.settings import LiveKitSettings

HDX = load_scenario(PROJECT / "scenarios" / "hdx-2478.json")
LOAD_BOUND = ("max_overlaps", "max_response_gap_p95_s", "no_findings_at_or_above")
"""Contracts measured on the received audio (see the repeated-calls test)."""


def settings_of(server: LocalServer) -> LiveKitSettings:
    return LiveKitSettings(server.url, server.api_key, server.api_secret, "test server")


async def test_bounded_runs_at_most_k_at_once_in_order_and_keeps_the_order() -> None:
    running, most, started = 0, 0, []

    async def work(item: int) -> int:
        nonlocal running, most
        started.append(item)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05 if item % 2 else 0.02)
        running -= 1
        return item * 10

    assert await bounded(list(range(7)), 3, work) == [0, 10, 20, 30, 40, 50, 60]
    assert most == 3 and started[:3] == [0, 1, 2]


async def test_bounded_cancels_the_rest_when_one_raises() -> None:
    finished: list[int] = []

    async def work(item: int) -> int:
        if item == 0:
            raise ValueError("boom")
        await asyncio.sleep(5)
        finished.append(item)
        return item

    started = time.monotonic()
    with pytest.raises(ValueError, match="boom"):
        await bounded([0, 1, 2], 3, work)
    assert finished == [] and time.monotonic() - started < 1


@pytest.mark.e2e
async def test_repeated_calls_run_together_each_recorded_and_meeting_its_contracts(
    own_server: LocalServer,
) -> None:
    plan = RunPlan(
        (HDX,), repeat=2, concurrency=2, voice="offline", settings=settings_of(own_server)
    )
    stream = io.StringIO()
    started = time.monotonic()
    outcomes = await run_calls_async(plan, RunProgress(stream, 2, live=False))
    wall = time.monotonic() - started
    assert [(o.call.index, o.error) for o in outcomes] == [(1, None), (2, None)], stream.getvalue()
    reports = [o.report for o in outcomes]
    assert all(report is not None for report in reports)
    runs = default_runs_dir()
    assert str(runs).startswith(os.environ["XDG_STATE_HOME"])  # the suite's own state folder
    for outcome in outcomes:
        assert outcome.report_path is not None and outcome.report_path.parent.parent == runs
        verdict = judge_call(HDX, outcome.call.index, None, outcome.report)
        # What the agents said and how the call ended hold on any machine; overlaps, gaps and
        # findings come from the received audio, which a starved machine delays unevenly
        # (the whole contract set is held in test_run.py).
        failed = [r.message for r in verdict.failures if not r.name.startswith(LOAD_BOUND)]
        assert verdict.results and not failed, failed
    first, second = (r for r in reports if r is not None)
    assert first["room"] != second["room"]
    # two at a time: the two calls overlap (one after the other would take twice as long)
    spans = [
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["ended_at"]))
        for r in (first, second)
    ]
    assert max(s for s, _ in spans) < min(e for _, e in spans), spans
    assert wall < 1.5 * max(r["duration_s"] for r in (first, second)) + scaled(20)
    # the dashboard's checks were noted while the call was on: real findings, all fine
    findings = {f["id"]: f["status"] for f in first["findings"]}
    assert findings["room.dispatcher"] == findings["room.driver"] == "ok"
    assert findings["dispatch.job"] == findings["audio.driver"] == "ok"
    text = stream.getvalue()
    assert "run: [2/2] HDX-2478 #" in text and text.count(" passed: ended (") == 2, text
    async with ControlPlane.from_settings(settings_of(own_server)) as control:
        assert await control.list_rooms() == []  # each call's room is deleted after it


@pytest.mark.e2e
async def test_a_dispatch_no_worker_takes_is_an_outcome_saying_so(own_server: LocalServer) -> None:
    plan = RunPlan((HDX,), no_worker=True, settings=settings_of(own_server))
    stream = io.StringIO()
    (outcome,) = await run_calls_async(
        plan, RunProgress(stream, 1, live=False), limits=CallLimits(join_timeout_s=2)
    )
    assert outcome.error is not None
    assert outcome.error.startswith("no worker took the job: no agent joined conv_HDX-2478_")
    assert outcome.error.endswith(
        "(start a worker for agent 'dispatch-multi-agent' on this server)"
    )
    # the record of the empty room is kept, and the error wins over its contracts
    assert outcome.report_path is not None and Path(outcome.report_path).is_file()
    assert judge_call(HDX, 1, None, outcome.report, outcome.error).error == outcome.error
    assert "run: [1/1] HDX-2478 #1 error: no worker took the job" in stream.getvalue()
    async with ControlPlane.from_settings(settings_of(own_server)) as control:
        assert await control.list_rooms() == []
