"""The command line: exit codes, one-line errors, and create-room/rooms on a real server."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import PROJECT
from livekit import api

from agents.scenario import scenario_from_metadata
from tui.commands.cli import DEFAULT_SCENARIO_DIR, format_rooms, run_cli
from tui.core.control_plane import RoomSummary
from tui.core.local_server import LocalServer, free_port
from tui.core.settings import DashboardOptions

HDX = PROJECT / "scenarios" / "hdx-2478.json"
ROOM_NAME = re.compile(r"^conv_HDX-2478_\d{8}T\d{12}Z_[0-9a-f]{6}$")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer .env may leak into these tests."""
    monkeypatch.chdir(tmp_path)


def _run(argv: list[str], environ: dict[str, str] | None = None) -> Result:
    """Run the CLI on its own thread: it calls asyncio.run, which must not touch the test loop."""
    out, err = io.StringIO(), io.StringIO()
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(run_cli, argv, environ=environ or {}, stdout=out, stderr=err).result(
            timeout=30
        )
    return Result(code, out.getvalue(), err.getvalue())


def _env(server: LocalServer, secret: str | None = None) -> dict[str, str]:
    return {
        "LIVEKIT_URL": server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": secret or server.api_secret,
    }


def _room_names(server: LocalServer) -> set[str]:
    async def fetch() -> set[str]:
        async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
            reply = await lkapi.room.list_rooms(api.ListRoomsRequest())
        return {room.name for room in reply.rooms}

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch()).result(timeout=10)


def _room_metadata(server: LocalServer, name: str) -> str:
    async def fetch() -> str:
        async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
            reply = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[name]))
        return reply.rooms[0].metadata

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch()).result(timeout=10)


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- create-room -------------------------------------------------------------------------------


def test_create_room_prints_the_room_name_and_stores_the_scenario(
    livekit_server: LocalServer,
) -> None:
    result = _run(["create-room", str(HDX)], _env(livekit_server))
    assert result.code == 0, result.err
    name = _one_line(result.out)
    assert ROOM_NAME.match(name)
    assert re.match(
        r"^dispatch AD_\w+ for agent dispatch-multi-agent \(load HDX-2478\)$", _one_line(result.err)
    )
    assert scenario_from_metadata(_room_metadata(livekit_server, name)).load_id == "HDX-2478"
    assert livekit_server.api_secret not in result.out + result.err


def test_create_room_as_a_subprocess_with_environment_variables(
    livekit_server: LocalServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env.update(_env(livekit_server))
    done = subprocess.run(
        [sys.executable, "-m", "tui", "create-room", str(HDX)],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    name = _one_line(done.stdout)
    assert ROOM_NAME.match(name)
    assert name in _room_names(livekit_server)


def test_bad_scenario_is_refused_before_anything_is_created(
    livekit_server: LocalServer, tmp_path: Path
) -> None:
    data = json.loads(HDX.read_text(encoding="utf-8"))
    data["load_id"] = "../etc"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    before = _room_names(livekit_server)
    result = _run(["create-room", str(bad)], _env(livekit_server))
    assert result.code == 2
    assert result.out == ""
    line = _one_line(result.err)
    assert str(bad) in line and "'load_id'" in line
    assert _room_names(livekit_server) == before


def test_missing_scenario_file_is_bad_input(livekit_server: LocalServer, tmp_path: Path) -> None:
    result = _run(["create-room", str(tmp_path / "nope.json")], _env(livekit_server))
    assert result.code == 2
    assert "no such file" in _one_line(result.err)


def test_create_room_without_a_url_explains_the_fix() -> None:
    result = _run(["create-room", str(HDX)], {})
    assert result.code == 2 and result.out == ""
    line = _one_line(result.err)
    assert "LIVEKIT_URL" in line and "vanish" in line


def test_url_without_secret_is_bad_input(livekit_server: LocalServer) -> None:
    result = _run(["--url", livekit_server.url, "--api-key", "k", "create-room", str(HDX)], {})
    assert result.code == 2
    assert "LIVEKIT_API_SECRET" in _one_line(result.err)


def test_wrong_secret_fails_with_credentials_message(livekit_server: LocalServer) -> None:
    wrong = "X" * 40
    before = _room_names(livekit_server)
    result = _run(["create-room", str(HDX)], _env(livekit_server, secret=wrong))
    assert result.code == 1 and result.out == ""
    line = _one_line(result.err)
    assert "credentials rejected" in line
    assert wrong not in line and livekit_server.api_secret not in line
    assert _room_names(livekit_server) == before


def test_unreachable_server_fails_with_one_line() -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    result = _run(["--url", url, "--api-key", "k", "--api-secret", "S" * 40, "rooms"], {})
    assert result.code == 1
    assert f"unreachable at {url}" in _one_line(result.err)


def test_flags_override_environment(livekit_server: LocalServer) -> None:
    env = {
        "LIVEKIT_URL": f"ws://127.0.0.1:{free_port()}",
        "LIVEKIT_API_KEY": "nope",
        "LIVEKIT_API_SECRET": "N" * 40,
    }
    flags = [
        "--url",
        livekit_server.url,
        "--api-key",
        livekit_server.api_key,
        "--api-secret",
        livekit_server.api_secret,
    ]
    result = _run([*flags, "rooms"], env)
    assert result.code == 0, result.err


def test_env_file_is_used(livekit_server: LocalServer, tmp_path: Path) -> None:
    env_file = tmp_path / "lk.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in _env(livekit_server).items()))
    assert _run(["--env-file", str(env_file), "rooms"], {}).code == 0
    missing = _run(["--env-file", str(tmp_path / "none.env"), "rooms"], {})
    assert missing.code == 2 and "does not exist" in _one_line(missing.err)


# --- rooms -------------------------------------------------------------------------------------


def test_rooms_lists_a_created_room(livekit_server: LocalServer) -> None:
    created = _run(["create-room", str(HDX)], _env(livekit_server))
    name = created.out.strip()
    result = _run(["rooms"], _env(livekit_server))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "LOAD", "PARTICIPANTS", "CREATED", "(UTC)"]
    row = next(line for line in lines if line.startswith(name))
    assert row.split()[1:3] == ["HDX-2478", "0"]


def test_format_rooms_aligns_columns_and_neutralises_control_codes() -> None:
    created = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    table = format_rooms(
        [
            RoomSummary("conv_A-1_x", "RM_1", 2, created, "A-1"),
            RoomSummary("evil\x1b[2Jroom", "RM_2", 0, None, None),
        ]
    )
    lines = table.splitlines()
    assert lines[1] == "conv_A-1_x    A-1   2             2026-05-01 12:00:00"
    assert lines[0].index("LOAD") == lines[1].index(" A-1 ") + 1 == lines[2].index(" - ") + 1
    assert "\x1b" not in table and "evil?[2Jroom" in lines[2]


def test_rooms_without_a_url_is_bad_input() -> None:
    result = _run(["rooms"], {})
    assert result.code == 2 and "LIVEKIT_URL" in _one_line(result.err)


# --- api and parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_api_refuses_non_loopback_hosts(host: str, livekit_server: LocalServer) -> None:
    result = _run(["api", "--host", host], _env(livekit_server))
    assert result.code == 2
    assert f"refusing --host {host}" in _one_line(result.err)


@pytest.mark.parametrize(
    "argv",
    [
        ["api", "--port", "70000"],
        ["api", "--port", "http"],
        ["frobnicate"],
        ["--voice", "loud"],
        ["rooms", "--bogus"],
        ["create-room"],
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(argv: list[str]) -> None:
    result = _run(argv, {})
    assert result.code == 2
    assert _one_line(result.err).startswith("dispatch-tui")
    assert "(see --help)" in result.err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"], environ={}) == 0
    assert "create-room" in capsys.readouterr().out


# --- dashboard ---------------------------------------------------------------------------------


@pytest.fixture
def dashboard_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[DashboardOptions | None]]:
    import tui.ui.app

    calls: list[DashboardOptions | None] = []

    def fake(options: DashboardOptions | None = None) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(tui.ui.app, "run_dashboard", fake)
    yield calls


def test_dashboard_gets_its_options(
    dashboard_calls: list[DashboardOptions | None], tmp_path: Path
) -> None:
    assert (
        run_cli(
            [
                "--no-worker",
                "--voice",
                "offline",
                "--scenarios",
                str(tmp_path),
                "--scenarios",
                str(DEFAULT_SCENARIO_DIR),
            ],
            environ={},
        )
        == 0
    )
    assert dashboard_calls == [
        DashboardOptions(
            settings=None,
            scenario_dirs=(tmp_path, DEFAULT_SCENARIO_DIR),
            no_worker=True,
            voice="offline",
        )
    ]


def test_dashboard_defaults(dashboard_calls: list[DashboardOptions | None]) -> None:
    env = {"LIVEKIT_URL": "wss://x.example", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "S" * 40}
    assert run_cli([], environ=env) == 0
    (options,) = dashboard_calls
    assert options is not None and options.settings is not None
    assert options.settings.url == "wss://x.example"
    assert (options.scenario_dirs, options.no_worker, options.voice) == (
        (DEFAULT_SCENARIO_DIR,),
        False,
        None,
    )


def test_dashboard_refuses_a_missing_scenario_folder(
    dashboard_calls: list[DashboardOptions | None], tmp_path: Path
) -> None:
    result = _run(["--scenarios", str(tmp_path / "none")], {})
    assert result.code == 2 and "not a folder" in _one_line(result.err)
    assert dashboard_calls == []


def test_match_patterns_reach_the_dashboard(dashboard_calls: list[DashboardOptions | None]) -> None:
    argv = ["--no-worker", "--match", "receiver=^rosa", "--match", "Driver=dwayne|dw"]
    assert run_cli(argv, environ={}) == 0
    (options,) = dashboard_calls
    assert options is not None
    assert [(m.role, m.pattern.pattern) for m in options.matches] == [
        ("receiver", "^rosa"),
        ("driver", "dwayne|dw"),
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("receiver", "expected ROLE=REGEX"),
        ("=rosa", "expected ROLE=REGEX"),
        ("receiver=", "expected ROLE=REGEX"),
        ("receiver=ros(a", "bad regular expression"),
        ("unmatched=x", "is not an agent role"),
    ],
)
def test_bad_match_is_one_line_and_exit_2(
    dashboard_calls: list[DashboardOptions | None], value: str, problem: str
) -> None:
    result = _run(["--match", value])
    assert result.code == 2 and result.out == ""
    line = _one_line(result.err)
    assert "--match" in line and problem in line, line
    assert dashboard_calls == []
