"""The summary of ``dispatch-tui run``: one row per scenario, as data, text and JSON.

A call's response gap p95 and its duration come from its record; a scenario's row shows the
median over its calls (calls without the figure are left out of the median; ``-`` when none
has it). The pass rate counts calls that failed to run as not passed.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from tui.core.contracts import CallVerdict

_HEADER: Final = (
    "SCENARIO",
    "CALLS",
    "PASSED",
    "PASS RATE",
    "GAP P95 (MEDIAN)",
    "DURATION (MEDIAN)",
)


@dataclass(frozen=True)
class SummaryRow:
    """One scenario's calls summed up."""

    scenario: str
    source: str
    calls: int
    passed: int
    errors: int
    """Calls that left no record (counted in ``calls``, not in ``passed``)."""
    gap_p95_s: float | None
    duration_s: float | None

    @property
    def pass_rate(self) -> float:
        return self.passed / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "source": self.source,
            "calls": self.calls,
            "passed": self.passed,
            "errors": self.errors,
            "pass_rate": round(self.pass_rate, 4),
            "response_gap_p95_s_median": self.gap_p95_s,
            "duration_s_median": self.duration_s,
        }


def _median(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def summary_rows(verdicts: Sequence[CallVerdict]) -> list[SummaryRow]:
    """One row per scenario file, in the order the scenarios first appear."""
    groups: dict[str, list[CallVerdict]] = {}
    for verdict in verdicts:
        groups.setdefault(verdict.source, []).append(verdict)
    return [
        SummaryRow(
            scenario=calls[0].scenario,
            source=source,
            calls=len(calls),
            passed=sum(1 for call in calls if call.passed),
            errors=sum(1 for call in calls if call.error is not None),
            gap_p95_s=_median([call.gap_p95_s for call in calls]),
            duration_s=_median([call.duration_s for call in calls]),
        )
        for source, calls in groups.items()
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def format_summary(rows: Sequence[SummaryRow]) -> str:
    """A plain table for the terminal, with a total line when there are several scenarios."""
    table = [_HEADER]
    for row in rows:
        table.append(
            (
                row.scenario,
                str(row.calls),
                str(row.passed),
                f"{row.pass_rate:.0%}",
                _seconds(row.gap_p95_s),
                _seconds(row.duration_s),
            )
        )
    if len(rows) > 1:
        calls = sum(row.calls for row in rows)
        passed = sum(row.passed for row in rows)
        rate = f"{passed / calls:.0%}" if calls else "-"
        table.append(("TOTAL", str(calls), str(passed), rate, "", ""))
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def failure_lines(verdicts: Sequence[CallVerdict]) -> list[str]:
    """Under the table: each call that failed, one line per broken contract (observed and
    expected) or its error."""
    lines = []
    for verdict in verdicts:
        where = f"{verdict.scenario} call {verdict.index}"
        if verdict.error is not None:
            lines.append(f"{where}: error: {verdict.error}")
        lines.extend(f"{where}: {result.message}" for result in verdict.failures)
    return lines


def verdict_line(verdicts: Sequence[CallVerdict]) -> str:
    """One line for stderr: how many calls passed, and which failed and why (first contract)."""
    failed = [verdict for verdict in verdicts if not verdict.passed]
    if not verdicts:
        return "run: no call was placed"
    if not failed:
        return f"run: all {len(verdicts)} calls passed"
    shown = []
    for verdict in failed[:3]:
        why = verdict.error or verdict.failures[0].name
        shown.append(f"{verdict.scenario} call {verdict.index} ({why})")
    more = f", and {len(failed) - 3} more" if len(failed) > 3 else ""
    return f"run: {len(failed)} of {len(verdicts)} calls failed: {', '.join(shown)}{more}"


def results_document(verdicts: Sequence[CallVerdict]) -> dict[str, Any]:
    """The ``--json`` file: every call with its contracts, and the summary rows."""
    return {
        "calls": [verdict.as_dict() for verdict in verdicts],
        "summary": [row.as_dict() for row in summary_rows(verdicts)],
        "passed": all(verdict.passed for verdict in verdicts),
    }
