"""``dispatch-tui doctor``: the table, the exit code, and the checks against a real server."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit import api, rtc
from reliability_support import wait_until_jobs_dispatched

from agents.constants import AGENT_NAME
from agents.multi_agent_worker import build_server
from tui.commands.cli import run_cli
from tui.commands.doctor import diagnose, format_checks
from tui.core.diagnostics import Check, Thresholds
from tui.core.local_server import LocalServer
from tui.core.record.store import RunStore
from tui.core.roles import parse_match
from tui.core.settings import LiveKitSettings
from tui.core.worker_runner import InProcessWorker


def settings_for(server: LocalServer, secret: str | None = None) -> LiveKitSettings:
    return LiveKitSettings(server.url, server.api_key, secret or server.api_secret, "test")


def test_table_shows_status_finding_and_fix_without_control_codes() -> None:
    table = format_checks(
        [
            Check("server.reachable", "Server", "ok", "the server answers", "unused"),
            Check("room.unmatched", "Agents", "fail", "agent\x1b[2J_abc123: no match", "rename it"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "FINDING"]
    assert lines[1].startswith("ok ") and "unused" not in table
    assert lines[2].startswith("FAIL") and "agent?[2J_abc123" in lines[2]
    assert lines[3].strip() == "fix: rename it"


def test_doctor_without_a_server_is_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["doctor"], environ={}, stdout=out, stderr=err)
    assert code == 2
    assert len(err.getvalue().strip().splitlines()) == 1
    assert "LIVEKIT_URL" in err.getvalue() and out.getvalue() == ""


def test_doctor_rejects_a_bad_timeout() -> None:
    err = io.StringIO()
    assert run_cli(["doctor", "--timeout", "0"], environ={}, stderr=err) == 2


async def test_stopped_server_fails_unreachable() -> None:
    server = LocalServer()
    await server.astart()
    settings = settings_for(server)
    await server.astop()
    result = await diagnose(settings, timeout_s=3)
    checks = {c.id: c for c in result.checks}
    assert result.exit_code == 1
    assert checks["server.reachable"].status == "fail"
    assert "unreachable" in checks["server.reachable"].finding


async def test_wrong_secret_fails_credentials(livekit_server: LocalServer) -> None:
    result = await diagnose(settings_for(livekit_server, "y" * 40), timeout_s=3)
    checks = {c.id: c for c in result.checks}
    assert result.exit_code == 1
    assert checks["server.reachable"].status == "ok"
    assert checks["server.credentials"].status == "fail"


async def test_unknown_room_fails(livekit_server: LocalServer) -> None:
    result = await diagnose(settings_for(livekit_server), room="no-such-room", timeout_s=3)
    assert result.exit_code == 1
    assert {c.id: c for c in result.checks}["room"].finding == "no active room named no-such-room"


async def test_room_without_worker_fails_in_a_few_seconds(livekit_server: LocalServer) -> None:
    name = f"doctor_{uuid.uuid4().hex[:8]}"
    absent = f"absent-{uuid.uuid4().hex[:6]}"
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as lkapi:
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=name, empty_timeout=30, agents=[api.RoomAgentDispatch(agent_name=absent)]
            )
        )
        try:
            result = await diagnose(
                settings_for(livekit_server), room=name, timeout_s=5, agent_name=absent
            )
        finally:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
    checks = {c.id: c for c in result.checks}
    assert result.exit_code == 1
    assert checks["dispatch.job"].status == "fail"
    assert "no job was accepted" in checks["dispatch.job"].finding
    assert checks["worker.registered"].status == "fail"


@pytest.fixture
async def worker(livekit_server: LocalServer) -> AsyncIterator[InProcessWorker]:
    server = build_server(
        voice="offline",
        ws_url=livekit_server.url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
    )
    running = InProcessWorker(server, lambda _status: None, agent_name=AGENT_NAME)
    await running.start()
    try:
        assert (await running.wait_registered(30)).state == "registered"
        # "registered" comes before the server can dispatch to the worker (see the helper)
        await wait_until_jobs_dispatched(livekit_server, 30)
        yield running
    finally:
        await running.aclose()


async def test_healthy_room_exits_zero(
    livekit_server: LocalServer,
    worker: InProcessWorker,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DISPATCH_VOICE", "offline")
    name = f"doctor_{uuid.uuid4().hex[:8]}"
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as lkapi:
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=name, empty_timeout=30, agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME)]
            )
        )
        try:
            started = time.monotonic()
            result = await diagnose(
                settings_for(livekit_server),
                room=name,
                timeout_s=20,
                thresholds=Thresholds(),
                record=RunStore(tmp_path),
            )
        finally:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
    assert [c for c in result.checks if c.status != "ok"] == []
    assert result.exit_code == 0 and result.room == name
    assert time.monotonic() - started < 20
    # what doctor saw is recorded: the agents, and every check it found passing
    run_dir = Path(result.record)
    assert run_dir.parent == tmp_path
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    joined = {e["identity"] for e in events if e["type"] == "ParticipantJoined"}
    assert {"dispatcher-tim", "driver-chris"} <= joined
    findings = {e["check_id"]: e["status"] for e in events if e["type"] == "Finding"}
    assert findings and set(findings.values()) == {"ok"}, findings
    assert json.loads((run_dir / "report.json").read_text())["room"] == name


async def test_match_gives_an_unmatched_agent_its_role(livekit_server: LocalServer) -> None:
    # an agent participant of a room nobody created from a scenario: its identity names no role
    server, name = livekit_server, f"doctor_{uuid.uuid4().hex[:8]}"
    grants = api.VideoGrants(room_join=True, room=name)
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity("helper-rosa")
        .with_kind("agent")
        .with_grants(grants)
        .to_jwt()
    )
    stranger = rtc.Room()
    await stranger.connect(server.url, token)
    try:
        plain = await diagnose(settings_for(server), room=name, timeout_s=2)
        matched = await diagnose(
            settings_for(server), room=name, timeout_s=2, matches=(parse_match("receiver=rosa"),)
        )
    finally:
        await stranger.disconnect()
        async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
    unmatched = {c.id: c for c in plain.checks}["room.unmatched"]
    assert unmatched.status == "fail" and unmatched.finding.startswith("helper-rosa:")
    assert {c.id: c for c in matched.checks}["room.unmatched"].status == "ok"


def test_doctor_rejects_a_bad_match_in_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["doctor", "--match", "receiver=(unclosed"]
    assert run_cli(argv, environ={}, stdout=out, stderr=err) == 2
    assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    assert "--match" in err.getvalue() and "REGEX" in err.getvalue()
    assert out.getvalue() == ""
