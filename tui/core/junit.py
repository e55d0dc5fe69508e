"""JUnit XML for ``dispatch-tui run --junit``: one test case per call, one suite per scenario.

The shape is the one GitHub (test-reporter actions), GitLab (``artifacts:reports:junit``) and
Jenkins (the JUnit plugin) read::

    <testsuites name tests failures errors skipped time timestamp>
      <testsuite name tests failures errors skipped time timestamp>
        <testcase name classname time>
          <failure message type>each broken contract, one per line</failure>
          <error message type>why there is no record</error>   (the call failed)
          <system-out>record: PATH, then every contract</system-out>
        </testcase>

Text from a record (transcript lines in an observed value) may hold characters XML 1.0 cannot
carry at all, even escaped: they become U+FFFD. ElementTree escapes the rest.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from tui.core.contracts import CallVerdict

SUITES_NAME: Final = "dispatch-tui run"
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _suites(verdicts: Sequence[CallVerdict]) -> dict[str, list[CallVerdict]]:
    """Calls grouped by scenario file, in the order the scenarios first ran."""
    groups: dict[str, list[CallVerdict]] = {}
    for verdict in verdicts:
        groups.setdefault(verdict.source, []).append(verdict)
    return groups


def _counts(element: ET.Element, calls: Sequence[CallVerdict], time_s: float) -> None:
    errors = sum(1 for call in calls if call.error is not None)
    failures = sum(1 for call in calls if call.error is None and not call.passed)
    element.set("tests", str(len(calls)))
    element.set("failures", str(failures))
    element.set("errors", str(errors))
    element.set("skipped", "0")
    element.set("time", _seconds(time_s))


def _details(verdict: CallVerdict) -> str:
    lines = [f"record: {verdict.report_path or '(none)'}"]
    if not verdict.results and verdict.error is None:
        lines.append("no contracts in this scenario: the call passes when it leaves a record")
    lines.extend(result.message for result in verdict.results)
    return "\n".join(lines)


def _testcase(parent: ET.Element, verdict: CallVerdict) -> None:
    case = ET.SubElement(parent, "testcase")
    case.set("name", _xml_text(f"{verdict.scenario} call {verdict.index}"))
    case.set("classname", _xml_text(f"dispatch-tui.{verdict.scenario}"))
    case.set("time", _seconds(verdict.duration_s or 0.0))
    if verdict.error is not None:
        error = ET.SubElement(case, "error")
        error.set("type", "CallFailed")
        error.set("message", _xml_text(f"the call produced no record: {verdict.error}"))
        error.text = _xml_text(verdict.error)
    elif failed := verdict.failures:
        failure = ET.SubElement(case, "failure")
        failure.set("type", "ContractFailed")
        failure.set("message", _xml_text("; ".join(result.message for result in failed)))
        failure.text = _xml_text("\n".join(result.message for result in failed))
    out = ET.SubElement(case, "system-out")
    out.text = _xml_text(_details(verdict))


def junit_xml(
    verdicts: Sequence[CallVerdict], *, started_at: datetime, elapsed_s: float | None = None
) -> str:
    """The JUnit document for one run; ``elapsed_s`` is the run's wall time (default: the sum
    of the calls' durations, which overstates it when calls ran concurrently)."""
    # UTC without an offset: the Ant/Jenkins schema's timestamp has no time zone.
    stamp = started_at.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()
    root = ET.Element("testsuites")
    root.set("name", SUITES_NAME)
    total = sum(verdict.duration_s or 0.0 for verdict in verdicts)
    _counts(root, verdicts, total if elapsed_s is None else elapsed_s)
    root.set("timestamp", stamp)
    for source, calls in _suites(verdicts).items():
        suite = ET.SubElement(root, "testsuite")
        suite.set("name", _xml_text(source))
        _counts(suite, calls, sum(call.duration_s or 0.0 for call in calls))
        suite.set("timestamp", stamp)
        for call in calls:
            _testcase(suite, call)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(
    path: Path,
    verdicts: Sequence[CallVerdict],
    *,
    started_at: datetime,
    elapsed_s: float | None = None,
) -> None:
    """Write the document next to ``path`` and move it into place: a reader never sees half."""
    text = junit_xml(verdicts, started_at=started_at, elapsed_s=elapsed_s)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
