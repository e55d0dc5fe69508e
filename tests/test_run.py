"""``dispatch-tui run`` after the calls: outcomes judged, JUnit and JSON written, the table on
stdout, one verdict line on stderr, and the exit code. Most tests use a stand-in runner
returning fixed outcomes; the last ones run the command whole: real calls on a loopback server
of its own, a passing and a failing scenario at once, and a malformed contract refused."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, TextIO

import pytest
from helpers import PROJECT
from test_contracts import record

from tui.commands import run as run_module
from tui.commands.cli import run_cli
from tui.core.run_plan import CallOutcome, RunPlan

HDX = PROJECT / "scenarios" / "hdx-2478.json"
TQR = PROJECT / "scenarios" / "tqr-1193.json"


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def hdx_record(**changes: Any) -> dict[str, Any]:
    """A record meeting hdx-2478.json's shipped contracts, with top-level changes."""
    report = record()
    report.update(changes)
    return report


def use_runner(monkeypatch: pytest.MonkeyPatch, make: Any) -> list[RunPlan]:
    plans: list[RunPlan] = []

    def runner(plan: RunPlan, err: TextIO) -> list[CallOutcome]:
        plans.append(plan)
        return [make(call) for call in plan.calls()]

    monkeypatch.setattr(run_module, "run_calls", runner)
    return plans


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["run", *argv], environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_every_call_passing_exits_0_and_writes_both_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plans = use_runner(
        monkeypatch, lambda call: CallOutcome(call, tmp_path / f"{call.index}.json", hdx_record())
    )
    code, out, err = run([str(HDX), "--repeat", "2", "--junit", "j.xml", "--json", "r.json"])
    assert code == 0, err
    assert err == "run: all 2 calls passed\n"
    assert out.splitlines()[1].split()[:4] == ["HDX-2478", "2", "2", "100%"]
    (plan,) = plans
    assert (plan.repeat, plan.concurrency, plan.voice, plan.settings) == (2, 1, None, None)
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "0")
    system_out = root.findtext("testsuite/testcase/system-out", "")
    assert system_out.startswith(f"record: {tmp_path / '1.json'}\n")
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert document["passed"] is True and len(document["calls"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.xml", "r.json"]


def test_a_broken_contract_or_a_failed_call_exits_1_and_says_which(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def make(call: Any) -> CallOutcome:
        if call.scenario.load_id == "TQR-1193":
            return CallOutcome(call, None, None, "no agent joined\x1b[2J within 30 s")
        return CallOutcome(call, tmp_path / "r.json", hdx_record(ended_reason="error"))

    use_runner(monkeypatch, make)
    code, out, err = run([str(HDX), str(TQR), "--junit", "j.xml"])
    assert code == 1
    # one line, and the call's error cannot drive the terminal
    assert err.count("\n") == 1 and err.rstrip("\n").isprintable(), repr(err)
    assert err.startswith("run: 2 of 2 calls failed: HDX-2478 call 1 (ended_reason), TQR-1193")
    lines = out.splitlines()
    assert [line.split()[:4] for line in lines[1:4]] == [
        ["HDX-2478", "1", "0", "0%"],
        ["TQR-1193", "1", "0", "0%"],
        ["TOTAL", "2", "0", "0%"],
    ]
    # under the table, each failed call: the contract it broke, or its error
    assert lines[4:] == [
        "HDX-2478 call 1: ended_reason FAILED: observed 'error', expected one of goodbye, "
        "max_turns",
        "TQR-1193 call 1: error: no agent joined?[2J within 30 s",
    ]
    root = ET.parse(tmp_path / "j.xml").getroot()
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == (
        "ended_reason FAILED: observed 'error', expected one of goodbye, max_turns"
    )
    error = root.find("testsuite[2]/testcase/error")
    assert error is not None and "no agent joined" in error.get("message", "")


def test_an_unwritable_result_file_at_the_end_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def make(call: Any) -> CallOutcome:
        # The folder vanishes while the calls run: checked before, gone after.
        (tmp_path / "out" / "keep").unlink()
        (tmp_path / "out").rmdir()
        return CallOutcome(call, None, hdx_record())

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("", encoding="utf-8")
    use_runner(monkeypatch, make)
    code, _, err = run([str(HDX), "--json", "out/r.json"])
    assert code == 1
    assert err.startswith("dispatch-tui: run: cannot write results:") and err.count("\n") == 1


def test_an_interrupted_run_says_so_writes_nothing_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def interrupted(call: Any) -> CallOutcome:
        raise KeyboardInterrupt

    use_runner(monkeypatch, interrupted)
    code, out, err = run([str(HDX), "--junit", "j.xml"])
    assert (code, out) == (130, "")
    assert err == "dispatch-tui: run: interrupted; no results written (records kept)\n"
    assert list(tmp_path.iterdir()) == []


SHORT_SCRIPT = (
    ("dispatcher", "Hi Chris, set the reefer to 34 degrees."),
    ("driver", "Got it, 34 continuous."),
    ("dispatcher", "I'll ask Kroger for a noon appointment."),
    ("driver", "Sounds good, thanks Tim."),
)
"""Four short lines meeting every kind of contract hdx-2478.json ships, in a call of seconds."""


def _short_calls(folder: Path) -> tuple[Path, Path]:
    """hdx-2478.json's personas and contracts on :data:`SHORT_SCRIPT` (two turns each), and a
    copy of it whose driver must say a word the script never says."""
    data = json.loads(HDX.read_text(encoding="utf-8"))
    data["load_id"] = "SHT-2478"
    data["script"] = [{"speaker": who, "text": text} for who, text in SHORT_SCRIPT]
    data["max_turns"] = len(SHORT_SCRIPT)
    data["expect"]["turns"] = {role: {"min": 2, "max": 2} for role in ("dispatcher", "driver")}
    short = folder / "short.json"
    short.write_text(json.dumps(data), encoding="utf-8")
    data["load_id"] = "NVR-2478"
    data["expect"]["transcript"]["driver"]["must_match"].append("(?i)\\bpineapple\\b")
    never = folder / "never.json"
    never.write_text(json.dumps(data), encoding="utf-8")
    return short, never


@pytest.mark.e2e
def test_real_calls_two_at_once_one_passing_one_breaking_a_contract(tmp_path: Path) -> None:
    short, never = _short_calls(tmp_path)
    argv = [str(short), str(never), "--concurrency", "2", "--voice", "offline"]
    code, out, err = run([*argv, "--junit", "j.xml", "--json", "r.json"])
    assert code == 1, err
    lines = out.splitlines()
    assert [line.split()[:4] for line in lines[1:4]] == [
        ["SHT-2478", "1", "1", "100%"],
        ["NVR-2478", "1", "0", "0%"],
        ["TOTAL", "2", "1", "50%"],
    ], out
    broken = "transcript.driver.must_match[1]"
    assert lines[4:] == [
        f"NVR-2478 call 1: {broken} FAILED: observed no match in 2 driver lines, expected a "
        "line matching /(?i)\\bpineapple\\b/"
    ], out
    progress = err.splitlines()
    assert progress[0].startswith("run: local livekit-server at ws://127.0.0.1:")
    assert "run: [2/2] " in err and f"FAILED {broken}: ended (" in err, err
    assert progress[-1] == f"run: 1 of 2 calls failed: NVR-2478 call 1 ({broken})"
    cases = ET.parse(tmp_path / "j.xml").getroot().findall("testsuite/testcase")
    assert len(cases) == 2
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message", "").startswith(f"{broken} FAILED")
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    # every call's record is kept where the JUnit file and the JSON say
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    for call in document["calls"]:
        assert Path(call["record"]).is_file() and call["error"] is None
        assert call["duration_s"] < 90


def test_a_malformed_contract_exits_2_in_one_line_before_any_call(tmp_path: Path) -> None:
    data = json.loads(HDX.read_text(encoding="utf-8"))
    data["expect"]["turns"]["pilot"] = {"min": 1}
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run([str(HDX), "bad.json", "--junit", "j.xml"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("dispatch-tui: bad.json: "), err
    assert "expect.turns" in err and "pilot" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]
