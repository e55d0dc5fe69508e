"""``dispatch-tui run``: place calls, check each against its scenario's contracts, report.

The command line becomes a :class:`~tui.core.run_plan.RunPlan` (``run_args``); a runner places
the calls and returns one :class:`~tui.core.run_plan.CallOutcome` each; every outcome is judged
(``tui.core.contracts``), written as JUnit and JSON when asked, and summed up in a table on
stdout (each failed call below it, naming the contracts it broke) and one verdict line on stderr.
Exit 0 when every call passed, 1 when any failed or could not run, 2 on bad input or when no
call could be placed at all (server unreachable, worker not registered).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from tui.commands.run_args import RunInputError, build_plan
from tui.core.contracts import CallVerdict, judge_call
from tui.core.junit import write_junit
from tui.core.log_bridge import LogCapture, default_log_path
from tui.core.run_plan import CallOutcome, CallRunner, RunPlan, RunSetupError
from tui.core.run_summary import (
    failure_lines,
    format_summary,
    results_document,
    summary_rows,
    verdict_line,
)
from tui.core.settings import LiveKitSettings

PROG: Final = "dispatch-tui"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED: Final = 130


def run_calls(plan: RunPlan, err: TextIO) -> list[CallOutcome]:
    """Place every call of ``plan`` (:func:`tui.core.call_runner.run_calls`), the process's
    log going to a file meanwhile: the terminal shows the progress, not the SDK's warnings."""
    from tui.core.call_runner import run_calls as place_all

    capture = LogCapture(default_log_path()).start()
    try:
        outcomes = place_all(plan, err, secrets=capture.add_secrets)
    finally:
        # The rtc handles of the finished calls are dropped now, their warnings still logged
        # to the file: left to the exit, the SDK prints them on the terminal.
        gc.collect()
        capture.close()
    print(f"{PROG}: run: log written to {_printable(str(capture.log_path))}", file=err)
    return outcomes


def run_command(
    args: argparse.Namespace,
    settings: LiveKitSettings | None,
    out: TextIO,
    err: TextIO,
    *,
    runner: CallRunner | None = None,
) -> int:
    """The ``run`` command from parsed arguments; returns the exit code. ``runner`` defaults
    to :func:`run_calls`."""
    try:
        plan = build_plan(args, settings)
    except RunInputError as exc:
        print(f"{PROG}: {_printable(str(exc))}", file=err)
        return EXIT_USAGE
    return execute(plan, runner or run_calls, out, err)


def _printable(text: str) -> str:
    """Paths and errors may carry terminal control codes: keep them off the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def judge(outcomes: Sequence[CallOutcome]) -> list[CallVerdict]:
    """Each outcome checked against its scenario's contracts."""
    return [
        judge_call(
            outcome.call.scenario,
            outcome.call.index,
            None if outcome.report_path is None else str(outcome.report_path),
            outcome.report,
            outcome.error,
        )
        for outcome in outcomes
    ]


def execute(plan: RunPlan, runner: CallRunner, out: TextIO, err: TextIO) -> int:
    """Run a checked plan: calls, verdicts, files, table, exit code."""
    started_at, started = datetime.now(UTC), time.monotonic()
    try:
        outcomes = runner(plan, err)
    except RunSetupError as exc:
        print(f"{PROG}: run: {_printable(str(exc))}; no call was placed", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # The calls in progress were closed (rooms deleted, records finished) on the way out.
        print(f"{PROG}: run: interrupted; no results written (records kept)", file=err)
        return EXIT_INTERRUPTED
    verdicts = judge(outcomes)
    elapsed_s = time.monotonic() - started
    try:
        if plan.junit is not None:
            write_junit(plan.junit, verdicts, started_at=started_at, elapsed_s=elapsed_s)
        if plan.json is not None:
            _write_json(plan.json, results_document(verdicts))
    except OSError as exc:
        print(f"{PROG}: run: cannot write results: {_printable(str(exc))}", file=err)
        return EXIT_FAILED
    if verdicts:
        print(format_summary(summary_rows(verdicts)), file=out)
        for line in failure_lines(verdicts):
            print(_printable(line), file=out)
    print(_printable(verdict_line(verdicts)), file=err)
    return EXIT_OK if verdicts and all(verdict.passed for verdict in verdicts) else EXIT_FAILED


def _write_json(path: Path, document: dict[str, Any]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
