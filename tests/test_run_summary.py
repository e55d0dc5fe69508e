"""The run summary: rows per scenario, the terminal table, the verdict line, the JSON file."""

from __future__ import annotations

import json

from tui.core.contracts import CallVerdict, ExpectationResult
from tui.core.run_summary import (
    failure_lines,
    format_summary,
    results_document,
    summary_rows,
    verdict_line,
)

FAIL = ExpectationResult("max_overlaps", False, 2, "at most 0", "max_overlaps FAILED: ...")
OK = ExpectationResult("ended_reason", True, "goodbye", "one of goodbye", "ended_reason ok: ...")


def call(
    source: str,
    index: int,
    *,
    passed: bool = True,
    error: str | None = None,
    duration: float | None = 40.0,
    gap: float | None = 0.1,
) -> CallVerdict:
    scenario = source.removesuffix(".json").upper()
    results = () if error else ((OK,) if passed else (OK, FAIL))
    return CallVerdict(
        scenario, source, index, None, results, error, duration_s=duration, gap_p95_s=gap
    )


CALLS = [
    call("hdx-2478.json", 1, duration=40.0, gap=0.1),
    call("tqr-1193.json", 1, passed=False, duration=50.0, gap=0.3),
    call("hdx-2478.json", 2, passed=False, duration=44.0, gap=None),
    call("hdx-2478.json", 3, error="no record", duration=None, gap=None),
    call("tqr-1193.json", 2, duration=52.0, gap=0.2),
]


def test_rows_group_calls_by_scenario_in_first_seen_order_with_medians() -> None:
    hdx, tqr = summary_rows(CALLS)
    assert (hdx.scenario, hdx.calls, hdx.passed, hdx.errors) == ("HDX-2478", 3, 1, 1)
    assert abs(hdx.pass_rate - 1 / 3) < 1e-9
    # Medians leave out the calls without the figure.
    assert (hdx.gap_p95_s, hdx.duration_s) == (0.1, 42.0)
    assert (tqr.calls, tqr.passed, tqr.gap_p95_s, tqr.duration_s) == (2, 1, 0.25, 51.0)


def test_a_scenario_whose_calls_have_no_figures_shows_a_dash() -> None:
    (row,) = summary_rows([call("a-1.json", 1, error="boom", duration=None, gap=None)])
    assert (row.gap_p95_s, row.duration_s, row.pass_rate) == (None, None, 0.0)
    table = format_summary([row]).splitlines()
    assert table[1].split() == ["A-1", "1", "0", "0%", "-", "-"]


def test_the_table_aligns_columns_and_adds_a_total_for_several_scenarios() -> None:
    lines = format_summary(summary_rows(CALLS)).splitlines()
    assert lines == [
        "SCENARIO  CALLS  PASSED  PASS RATE  GAP P95 (MEDIAN)  DURATION (MEDIAN)",
        "HDX-2478  3      1       33%        0.10 s            42.00 s",
        "TQR-1193  2      1       50%        0.25 s            51.00 s",
        "TOTAL     5      2       40%",
    ]
    single = format_summary(summary_rows(CALLS[:1])).splitlines()
    assert len(single) == 2 and single[1].split()[:4] == ["HDX-2478", "1", "1", "100%"]


def test_the_verdict_line_names_failed_calls_and_why() -> None:
    assert verdict_line(CALLS[:1]) == "run: all 1 calls passed"
    assert verdict_line(CALLS) == (
        "run: 3 of 5 calls failed: TQR-1193 call 1 (max_overlaps), HDX-2478 call 2 "
        "(max_overlaps), HDX-2478 call 3 (no record)"
    )
    many = [call("a-1.json", i, passed=False) for i in range(1, 6)]
    assert verdict_line(many).endswith("A-1 call 3 (max_overlaps), and 2 more")
    assert verdict_line([]) == "run: no call was placed"


def test_the_json_document_holds_every_call_and_the_summary() -> None:
    document = json.loads(json.dumps(results_document(CALLS)))
    assert document["passed"] is False
    assert [c["index"] for c in document["calls"]] == [1, 1, 2, 3, 2]
    assert document["calls"][1]["expectations"][1] == {
        "name": "max_overlaps",
        "passed": False,
        "observed": 2,
        "expected": "at most 0",
        "message": "max_overlaps FAILED: ...",
    }
    assert document["calls"][3]["error"] == "no record"
    assert document["summary"][0] == {
        "scenario": "HDX-2478",
        "source": "hdx-2478.json",
        "calls": 3,
        "passed": 1,
        "errors": 1,
        "pass_rate": 0.3333,
        "response_gap_p95_s_median": 0.1,
        "duration_s_median": 42.0,
    }
    assert results_document(CALLS[:1])["passed"] is True


def test_failure_lines_name_every_broken_contract_and_every_error_in_call_order() -> None:
    assert failure_lines(CALLS) == [
        "TQR-1193 call 1: max_overlaps FAILED: ...",
        "HDX-2478 call 2: max_overlaps FAILED: ...",
        "HDX-2478 call 3: error: no record",
    ]
    assert failure_lines([call("a-1.json", 1)]) == []
