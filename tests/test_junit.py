"""JUnit XML: it parses, has the shape CI systems read, counts right and survives hostile text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from tui.core.contracts import CallVerdict, ExpectationResult
from tui.core.junit import junit_xml, write_junit

STARTED = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
NUMBER = re.compile(r"^\d+$")
SECONDS = re.compile(r"^\d+(\.\d+)?$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def ok(name: str, observed: object = 1) -> ExpectationResult:
    return ExpectationResult(name, True, observed, "at most 2", f"{name} ok: observed 1")


def bad(name: str, observed: object, message: str) -> ExpectationResult:
    return ExpectationResult(name, False, observed, "at most 0", message)


PASSED = CallVerdict(
    "HDX-2478",
    "scenarios/hdx-2478.json",
    1,
    "/calls/a/report.json",
    (ok("max_overlaps"), ok("ended_reason")),
    duration_s=38.25,
    gap_p95_s=0.1,
)
FAILED = CallVerdict(
    "HDX-2478",
    "scenarios/hdx-2478.json",
    2,
    "/calls/b/report.json",
    (
        ok("ended_reason"),
        bad("max_overlaps", 2, "max_overlaps FAILED: observed 2, expected at most 0"),
        bad(
            "turns.driver.min",
            1,
            "turns.driver.min FAILED: observed 1 turn, expected at least 3",
        ),
    ),
    duration_s=41.5,
)
BROKEN = CallVerdict(
    "TQR-1193", "scenarios/tqr-1193.json", 1, None, error="no agent joined within 30 s"
)


def check_shape(root: ET.Element) -> None:
    """The common JUnit shape (Ant/Jenkins schema, read by GitHub and GitLab too)."""
    assert root.tag == "testsuites"
    suites = list(root)
    assert suites and all(suite.tag == "testsuite" for suite in suites)
    for element in [root, *suites]:
        for count in ("tests", "failures", "errors", "skipped"):
            assert NUMBER.match(element.get(count, "")), (element.tag, count)
        assert SECONDS.match(element.get("time", "")), element.attrib
        assert STAMP.match(element.get("timestamp", "")), element.attrib
    for suite in suites:
        assert suite.get("name")
        cases = list(suite)
        assert all(case.tag == "testcase" for case in cases)
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(
            case.find("failure") is not None for case in cases
        )
        assert int(suite.get("errors", "")) == sum(case.find("error") is not None for case in cases)
        for case in cases:
            assert case.get("name") and case.get("classname")
            assert SECONDS.match(case.get("time", ""))
            tags = [child.tag for child in case]
            # at most one outcome element, then system-out, in that order
            outcome = [tag for tag in tags if tag in ("failure", "error", "skipped")]
            assert len(outcome) <= 1 and tags == [*outcome, "system-out"], tags
            for child in case:
                if child.tag in ("failure", "error"):
                    assert child.get("message") and child.get("type")
    assert int(root.get("tests", "")) == sum(int(s.get("tests", "")) for s in suites)
    for count in ("failures", "errors"):
        assert int(root.get(count, "")) == sum(int(s.get(count, "")) for s in suites)


def test_one_suite_per_scenario_and_one_case_per_call() -> None:
    text = junit_xml([PASSED, FAILED, BROKEN], started_at=STARTED, elapsed_s=61.0)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text)
    check_shape(root)
    assert root.attrib == {
        "name": "dispatch-tui run",
        "tests": "3",
        "failures": "1",
        "errors": "1",
        "skipped": "0",
        "time": "61.000",
        "timestamp": "2026-05-01T12:00:00",
    }
    hdx, tqr = root
    assert (hdx.get("name"), hdx.get("tests"), hdx.get("time")) == (
        "scenarios/hdx-2478.json",
        "2",
        "79.750",
    )
    first, second = hdx
    assert first.attrib == {
        "name": "HDX-2478 call 1",
        "classname": "dispatch-tui.HDX-2478",
        "time": "38.250",
    }
    assert first.findtext("system-out") == (
        "record: /calls/a/report.json\nmax_overlaps ok: observed 1\nended_reason ok: observed 1"
    )
    failure = second.find("failure")
    assert failure is not None and failure.get("type") == "ContractFailed"
    assert failure.get("message") == (
        "max_overlaps FAILED: observed 2, expected at most 0; "
        "turns.driver.min FAILED: observed 1 turn, expected at least 3"
    )
    assert failure.text == failure.get("message", "").replace("; ", "\n")
    assert "ended_reason ok" in second.findtext("system-out", "")
    (case,) = tqr
    error = case.find("error")
    assert error is not None and error.get("type") == "CallFailed"
    assert error.get("message") == "the call produced no record: no agent joined within 30 s"
    assert case.get("time") == "0.000"
    assert case.findtext("system-out", "").startswith("record: (none)")


def test_hostile_text_is_escaped_or_replaced_and_the_document_still_parses() -> None:
    hostile = "Bye <b>&amp;</b> \"quoted\" 'single' ]]> \x00\x1b[2J\x7f \ud800 \ufffe end"
    verdict = CallVerdict(
        "HDX-2478",
        "scenarios/<&>.json",
        1,
        "/calls/&<>/report.json",
        (bad("transcript.driver.must_not_match[0]", hostile, f"FAILED: observed {hostile}"),),
        duration_s=1.0,
    )
    root = ET.fromstring(junit_xml([verdict], started_at=STARTED))
    check_shape(root)
    (suite,) = root
    assert suite.get("name") == "scenarios/<&>.json"
    failure = suite.find("testcase/failure")
    assert failure is not None
    message = failure.get("message", "")
    assert "Bye <b>&amp;</b> \"quoted\" 'single' ]]> " in message
    assert "\x00" not in message and "\x1b" not in message and "\ud800" not in message
    assert message.count("\ufffd") == 4  # NUL, ESC, the lone surrogate, U+FFFE
    assert "\x7f" in message  # allowed in XML 1.0: kept
    assert suite.findtext("testcase/system-out", "").startswith("record: /calls/&<>/report.json")


def test_newlines_in_messages_survive_as_attribute_text() -> None:
    verdict = CallVerdict(
        "A-1", "a.json", 1, None, error="first line\nsecond line", duration_s=None
    )
    root = ET.fromstring(junit_xml([verdict], started_at=STARTED))
    error = root.find("testsuite/testcase/error")
    assert (
        error is not None
        and error.get("message") == "the call produced no record: first line\nsecond line"
    )


def test_the_run_time_defaults_to_the_sum_and_the_stamp_is_utc() -> None:
    later = datetime(2026, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    root = ET.fromstring(junit_xml([PASSED, FAILED], started_at=later))
    assert root.get("time") == "79.750"
    assert root.get("timestamp") == "2026-05-01T12:00:00"


def test_a_scenario_without_contracts_says_why_its_call_passed() -> None:
    verdict = CallVerdict("A-1", "a.json", 1, "/r.json", (), duration_s=3.0)
    root = ET.fromstring(junit_xml([verdict], started_at=STARTED))
    check_shape(root)
    assert root.get("failures") == "0"
    assert "no contracts" in root.findtext("testsuite/testcase/system-out", "")


def test_write_junit_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("old", encoding="utf-8")
    write_junit(path, [PASSED], started_at=STARTED)
    check_shape(ET.parse(path).getroot())
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
