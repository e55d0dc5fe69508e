"""Command-line parsing: the dashboard (default), ``create-room``, ``rooms``, ``api``, ``doctor``,
``run``, ``report`` and ``replay``.

Exit codes: 0 success, 1 the server or an operation failed, 2 bad input (nothing was created).
Every error is one line on stderr; stdout carries only results, so ``room=$(dispatch-tui
create-room scenarios/hdx-2478.json)`` works in scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from agents.bundled import bundled_scenarios_dir
from agents.constants import AGENT_NAME
from agents.scenario import ScenarioError, load_scenario
from tui.commands.run_args import add_run_parser
from tui.core.control_plane import ControlPlane, ControlPlaneError, RoomSummary
from tui.core.record.store import Retention, RunStore, StoreError
from tui.core.roles import RoleMatch, parse_match
from tui.core.settings import (
    VOICE_CHOICES,
    DashboardOptions,
    LiveKitSettings,
    SettingsError,
    resolve_settings,
)

PROG = "dispatch-tui"
DEFAULT_SCENARIO_DIR = bundled_scenarios_dir()
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """Bad command-line input; the message is the one line to print."""


class _Parser(argparse.ArgumentParser):
    """argparse without the multi-line usage dump and without calling ``sys.exit``."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see --help)")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 1-65535")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{value:g} s is outside 0-600")
    return value


def _role_match(text: str) -> RoleMatch:
    try:
        return parse_match(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The full parser; the dashboard options live on the top level."""
    parser = _Parser(
        prog=PROG,
        description="Watch LiveKit voice agents (2 to 6) talk in one room, and manage those rooms. "
        "Server settings come from the flags, else LIVEKIT_URL, LIVEKIT_API_KEY and "
        "LIVEKIT_API_SECRET in the environment, else ./.env; with no URL the dashboard runs "
        "a local loopback server.",
    )
    server = parser.add_argument_group("LiveKit server")
    server.add_argument("--url", help="server URL, e.g. wss://example.livekit.cloud")
    server.add_argument("--api-key", help="API key")
    server.add_argument(
        "--api-secret",
        help="API secret (prefer the environment: argv is visible to other local users)",
    )
    server.add_argument(
        "--env-file", type=Path, help="read settings from this file instead of ./.env"
    )
    dashboard = parser.add_argument_group("dashboard (when no command is given)")
    dashboard.add_argument(
        "--no-worker", action="store_true", help="do not run the agent worker in-process"
    )
    dashboard.add_argument(
        "--no-record",
        action="store_true",
        help="do not record observed rooms (default: ~/.local/state/dispatch-tui/runs)",
    )
    dashboard.add_argument(
        "--scenarios",
        action="append",
        type=Path,
        metavar="DIR",
        help=f"scenario folder (repeatable; default {DEFAULT_SCENARIO_DIR})",
    )
    dashboard.add_argument(
        "--match",
        action="append",
        type=_role_match,
        default=[],
        metavar="ROLE=REGEX",
        help="also give ROLE to agents whose identity or name matches REGEX (repeatable; "
        "the room's scenario and the guide's tim/chris keywords always apply)",
    )
    dashboard.add_argument(
        "--voice",
        choices=VOICE_CHOICES,
        help="agent voices (default: realtime if OPENAI_API_KEY is set)",
    )

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    create = commands.add_parser(
        "create-room",
        help="create a room for a scenario and dispatch the agents to it",
        description="Print the new room's name on stdout and the dispatch id on stderr.",
    )
    create.add_argument("scenario", type=Path, metavar="SCENARIO.json")
    create.add_argument(
        "--agent-name", default=AGENT_NAME, help=f"agent to dispatch (default {AGENT_NAME})"
    )
    commands.add_parser("rooms", help="list active rooms")
    api = commands.add_parser("api", help="serve the HTTP API (POST /api/v1/rooms/create)")
    api.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    api.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    doctor = commands.add_parser(
        "doctor", help="run the dashboard's checks on a room and print them (exit 1 if any fails)"
    )
    doctor.add_argument("--room", help="room to check (default: the newest active room)")
    doctor.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="seconds to watch the room at most (default 10)",
    )
    doctor.add_argument(
        "--agent-name",
        default=AGENT_NAME,
        help=f"agent name the worker serves (default {AGENT_NAME})",
    )
    doctor.add_argument(
        "--no-record", action="store_true", help="do not record the room while watching it"
    )
    doctor.add_argument(
        "--match",
        action="append",
        type=_role_match,
        default=[],
        metavar="ROLE=REGEX",
        help="also give ROLE to agents whose identity or name matches REGEX (as the dashboard)",
    )
    add_run_parser(commands)
    report = commands.add_parser(
        "report",
        help="summarise a recorded call; --html writes it as one self-contained page",
        description="RUN_DIR is a call record (default location "
        "~/.local/state/dispatch-tui/runs/<room>).",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML page")
    replay = commands.add_parser(
        "replay",
        help="open the dashboard on a recorded call (no server is started)",
        description="RUN_DIR is a call record; the whole call is shown at once unless "
        "--real-time plays it at the speed it happened.",
    )
    replay.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    replay.add_argument(
        "--real-time", action="store_true", help="play the call at the speed it happened"
    )
    return parser


def run_cli(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command line and return its exit code. ``environ`` etc. are for tests."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except _UsageError as exc:
        print(exc, file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.command == "report":  # a file on disk: no server settings needed
        from tui.commands.report import run_report

        return run_report(args.run_dir, args.html, out, err)
    if args.command == "replay":  # a record on disk: no server at all
        return _replay(args, err)
    try:
        settings = resolve_settings(
            args.url, args.api_key, args.api_secret, env_file=args.env_file, environ=environ
        )
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    try:
        if args.command == "create-room":
            return _create_room(args, settings, out, err)
        if args.command == "rooms":
            return _rooms(settings, out)
        if args.command == "api":
            return _api(args, settings, err)
        if args.command == "doctor":
            from tui.commands.doctor import run_doctor

            try:
                store = None if args.no_record else RunStore(retention=Retention.from_env())
            except StoreError as exc:
                raise _UsageError(str(exc)) from None
            return run_doctor(
                _require_server(settings, "doctor"),
                room=args.room,
                timeout_s=args.timeout,
                agent_name=args.agent_name,
                out=out,
                err=err,
                record=store,
                matches=tuple(args.match),
            )
        if args.command == "run":
            from tui.commands.run import run_command

            return run_command(args, settings, out, err)
        return _dashboard(args, settings)
    except _UsageError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    except ControlPlaneError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_FAILED


def _replay(args: argparse.Namespace, err: TextIO) -> int:
    from tui.core.record.replay import load_recording
    from tui.core.record.run_dir import RunDirError

    try:
        recording = load_recording(args.run_dir)
    except RunDirError as exc:
        print(f"{PROG} replay: {exc}", file=err)
        return EXIT_USAGE
    from tui.ui.replay import run_replay  # Textual only once the record is good

    return run_replay(recording, real_time=args.real_time)


def _require_server(settings: LiveKitSettings | None, command: str) -> LiveKitSettings:
    if settings is None:
        raise _UsageError(
            f"{command} needs a running LiveKit server: set LIVEKIT_URL, LIVEKIT_API_KEY and "
            "LIVEKIT_API_SECRET (environment or .env) or pass --url/--api-key/--api-secret; "
            "a room on a throwaway local server would vanish when this command exits"
        )
    return settings


def _create_room(
    args: argparse.Namespace, settings: LiveKitSettings | None, out: TextIO, err: TextIO
) -> int:
    server = _require_server(settings, "create-room")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise _UsageError(str(exc)) from None

    async def create() -> tuple[str, str]:
        async with ControlPlane.from_settings(server) as control_plane:
            created = await control_plane.create_room(scenario, args.agent_name)
        return created.name, created.dispatch_id

    name, dispatch_id = asyncio.run(create())
    print(name, file=out)
    print(f"dispatch {dispatch_id} for agent {args.agent_name} (load {scenario.load_id})", file=err)
    return EXIT_OK


def _printable(text: str) -> str:
    """Room names and metadata come from the server: keep terminal control codes out."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def format_rooms(rooms: Sequence[RoomSummary]) -> str:
    """The ``rooms`` table: name, load, participants, created (UTC)."""
    rows = [("NAME", "LOAD", "PARTICIPANTS", "CREATED (UTC)")]
    for room in rooms:
        created = room.created_at.strftime("%Y-%m-%d %H:%M:%S") if room.created_at else "-"
        rows.append(
            (_printable(room.name), room.load_id or "-", str(room.num_participants), created)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _rooms(settings: LiveKitSettings | None, out: TextIO) -> int:
    server = _require_server(settings, "rooms")

    async def fetch() -> list[RoomSummary]:
        async with ControlPlane.from_settings(server) as control_plane:
            return await control_plane.list_rooms()

    rooms = asyncio.run(fetch())
    if rooms:
        print(format_rooms(rooms), file=out)
    else:
        print("no active rooms", file=out)
    return EXIT_OK


def _api(args: argparse.Namespace, settings: LiveKitSettings | None, err: TextIO) -> int:
    from tui.commands.api_server import ApiServerError, is_loopback_host, serve

    if not is_loopback_host(args.host):
        raise _UsageError(
            f"refusing --host {args.host}: the API has no authentication and must listen on "
            "loopback (127.0.0.1, ::1 or localhost)"
        )
    server = _require_server(settings, "api")

    def ready(url: str) -> None:
        print(f"API listening on {url}/api/v1/rooms (Ctrl-C to stop)", file=err, flush=True)

    try:
        asyncio.run(serve(server, args.host, args.port, on_ready=ready))
    except ApiServerError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _dashboard(args: argparse.Namespace, settings: LiveKitSettings | None) -> int:
    dirs = tuple(args.scenarios or (DEFAULT_SCENARIO_DIR,))
    for folder in dirs:
        if not folder.is_dir():
            raise _UsageError(f"--scenarios {folder}: not a folder; pass a folder of *.json files")
    if not args.no_record:
        try:
            Retention.from_env()
        except StoreError as exc:
            raise _UsageError(str(exc)) from None
    options = DashboardOptions(
        settings=settings,
        scenario_dirs=dirs,
        no_worker=args.no_worker,
        voice=args.voice,
        record=not args.no_record,
        matches=tuple(args.match),
    )
    # Textual is imported only when the dashboard actually runs.
    from tui.ui.app import run_dashboard

    return run_dashboard(options)
