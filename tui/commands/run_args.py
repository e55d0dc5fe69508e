"""``dispatch-tui run``'s command line: the subparser and the checks that turn it into a plan.

Everything is checked before any call starts: each scenario is loaded and validated (folders
expand to their ``*.json`` files), the ``--junit``/``--json`` paths must be writable files in
existing folders, and the options must make sense together. The first problem is one line
(:class:`RunInputError`), and nothing has been created or written.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from agents.bundled import bundled_scenarios_dir
from agents.constants import DEV_WORKER_CAPACITY
from agents.scenario import Scenario, ScenarioError, load_scenario
from tui.core.run_plan import RunPlan
from tui.core.settings import VOICE_CHOICES, LiveKitSettings

MAX_REPEAT: Final = 1000
MAX_CONCURRENCY: Final = DEV_WORKER_CAPACITY
"""An in-process worker takes this many calls at once (``DEV_WORKER_CAPACITY``)."""


class RunInputError(ValueError):
    """A ``run`` command line that cannot be planned; the message is the one line to print."""


def _whole(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid whole number {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}-{high}")
        return value

    return parse


def add_run_parser(commands: Any) -> None:
    """Add ``run`` to the CLI's subparsers (``commands`` is ``add_subparsers()``'s result)."""
    run = commands.add_parser(
        "run",
        help="place calls for scenarios and check each against its 'expect' contracts",
        description="Place one call per scenario (times --repeat) and check each call's record "
        "against the scenario's 'expect' contracts. Prints a summary table; exit 0 when every "
        "call passed, 1 when one failed, 2 on bad input (nothing is run). The server comes "
        "from --url/--api-key/--api-secret/--env-file before 'run' or from LIVEKIT_* in the "
        "environment; with no URL a local loopback server serves the run.",
    )
    run.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="SCENARIO_OR_DIR",
        help=f"scenario files or folders of *.json (default {bundled_scenarios_dir()})",
    )
    run.add_argument(
        "--repeat",
        type=_whole(1, MAX_REPEAT),
        default=1,
        metavar="N",
        help="calls per scenario (default 1)",
    )
    run.add_argument(
        "--concurrency",
        type=_whole(1, MAX_CONCURRENCY),
        default=1,
        metavar="K",
        help=f"calls at once, at most {MAX_CONCURRENCY} (default 1)",
    )
    run.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    run.add_argument("--json", type=Path, metavar="FILE", help="write every result as JSON here")
    # SUPPRESS: the same options on the top level (``dispatch-tui --voice offline run``) keep
    # their value; an argparse default here would overwrite it.
    run.add_argument(
        "--voice",
        choices=VOICE_CHOICES,
        default=argparse.SUPPRESS,
        help="agent voices of the in-process worker (default: realtime if OPENAI_API_KEY is set)",
    )
    run.add_argument(
        "--no-worker",
        action="store_true",
        default=argparse.SUPPRESS,
        help="workers elsewhere serve the calls (needs a server URL)",
    )


def scenario_files(paths: Sequence[Path]) -> list[Path]:
    """Files to load: folders expand to their sorted ``*.json``; each file once, in order."""
    files: dict[Path, Path] = {}
    for path in paths or (bundled_scenarios_dir(),):
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise RunInputError(f"{path}: no *.json scenario in this folder")
            for file in found:
                files.setdefault(file.resolve(), file)
        else:
            files.setdefault(path.resolve(), path)  # a missing file is reported when loaded
    return list(files.values())


def load_all(paths: Sequence[Path]) -> tuple[Scenario, ...]:
    """Every scenario loaded and validated; the first bad one is a RunInputError."""
    scenarios = []
    for path in scenario_files(paths):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as exc:
            raise RunInputError(str(exc)) from None
    return tuple(scenarios)


def _output(flag: str, path: Path | None, scenarios: Sequence[Scenario]) -> Path | None:
    """An output file that can be written, checked without creating anything."""
    if path is None:
        return None
    folder = path.parent
    if path.is_dir():
        raise RunInputError(f"{flag} {path}: is a folder; pass a file name such as results.xml")
    if not folder.is_dir():
        raise RunInputError(f"{flag} {path}: no folder {folder}; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RunInputError(f"{flag} {path}: not writable; choose another file")
    if any(path.resolve() == Path(scenario.source).resolve() for scenario in scenarios):
        raise RunInputError(f"{flag} {path}: is one of the scenarios; write results elsewhere")
    return path


def build_plan(args: argparse.Namespace, settings: LiveKitSettings | None) -> RunPlan:
    """Check a parsed ``run`` command line and load its scenarios, or raise RunInputError."""
    voice: str | None = getattr(args, "voice", None)
    no_worker: bool = getattr(args, "no_worker", False)
    if no_worker and settings is None:
        raise RunInputError(
            "run --no-worker needs the server the workers serve: set LIVEKIT_URL, "
            "LIVEKIT_API_KEY and LIVEKIT_API_SECRET or pass --url/--api-key/--api-secret"
        )
    if no_worker and voice is not None:
        raise RunInputError(
            "run: --voice sets the in-process worker's voice and --no-worker has none; "
            "drop one (set DISPATCH_VOICE where the workers run)"
        )
    scenarios = load_all(args.paths)
    junit = _output("--junit", args.junit, scenarios)
    json_path = _output("--json", args.json, scenarios)
    if junit is not None and json_path is not None and junit.resolve() == json_path.resolve():
        raise RunInputError(f"--junit and --json both name {junit}; pass two files")
    return RunPlan(
        scenarios=scenarios,
        repeat=args.repeat,
        concurrency=args.concurrency,
        junit=junit,
        json=json_path,
        voice=voice,
        no_worker=no_worker,
        settings=settings,
    )
