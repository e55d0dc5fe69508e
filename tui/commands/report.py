"""``dispatch-tui report RUN_DIR [--html FILE]``: what a recorded call looked like.

Prints a short summary of the run's ``report.json``; with ``--html`` also writes one
self-contained HTML page (:mod:`tui.core.record.html_report`). A bad or truncated run directory
is one line on stderr and exit 2; nothing is written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

from tui.core.record.html_report import render
from tui.core.record.run_dir import RunDirError, load_run

EXIT_OK, EXIT_USAGE = 0, 2


def summary(report: dict[str, Any]) -> str:
    """A few lines: the call, each agent's figures, turn-taking, failing findings."""
    turns = report["turn_taking"]
    gap = turns.get("response_gap_s", {})
    lines = [
        f"room {report['room']} · scenario {report.get('scenario') or '-'} · "
        f"started {report['started_at']} · {report.get('duration_s', 0):.1f} s · "
        f"ended: {report.get('ended_reason') or '-'}"
    ]
    for identity, agent in report["agents"].items():
        latency = agent.get("latency", {})
        lines.append(
            f"  {agent.get('name') or identity} ({identity}, {agent.get('role')}): "
            f"{agent.get('turns')} turns, {agent.get('speaking_s', 0):.1f} s speaking, "
            f"response p50 {_ms(latency.get('p50'))} p95 {_ms(latency.get('p95'))}"
        )
    lines.append(
        f"  turn-taking: gap p50 {_ms(gap.get('p50'))} p95 {_ms(gap.get('p95'))} "
        f"max {_ms(gap.get('max'))}, {turns.get('overlaps')} overlaps "
        f"({turns.get('overlap_s')} s), dead air {turns.get('dead_air_s')} s, longest turn "
        f"{turns.get('longest_turn_s')} s, deadlocks {turns.get('deadlocks')}"
    )
    for finding in report["findings"]:
        if finding.get("status") in ("warn", "fail"):
            lines.append(f"  {finding['status']}: {finding.get('id')}: {finding.get('finding')}")
    return "\n".join(lines)


def _ms(value: Any) -> str:
    return f"{value * 1000:.0f} ms" if isinstance(value, int | float) else "-"


def run_report(run_dir: Path, html: Path | None, out: TextIO, err: TextIO) -> int:
    """The command; returns its exit code."""
    try:
        run = load_run(run_dir)
        text = summary(run.report)
    except RunDirError as exc:
        print(f"dispatch-tui report: {exc}", file=err)
        return EXIT_USAGE
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        print(
            f"dispatch-tui report: {run_dir}: report.json is malformed ({type(exc).__name__}: "
            f"{exc}); record the call again",
            file=err,
        )
        return EXIT_USAGE
    if html is not None:
        if not html.parent.is_dir():
            print(
                f"dispatch-tui report: --html {html}: folder {html.parent} does not exist; "
                "create it or write elsewhere",
                file=err,
            )
            return EXIT_USAGE
        try:
            page = render(run)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            print(
                f"dispatch-tui report: {run_dir}: report.json is malformed "
                f"({type(exc).__name__}: {exc}); record the call again",
                file=err,
            )
            return EXIT_USAGE
        _write_atomically(html, page)
        print(f"HTML report written to {html}", file=err)
    print(text, file=out)
    return EXIT_OK


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a report is a normal file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
