"""``dispatch-tui report``: the summary, the HTML page, and one-line errors for bad run
directories (exit 2, nothing written). The page in a real browser: test_record_e2e.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_record_recorder import ROOM, synthetic_call

from agents.bundled import bundled_scenarios_dir
from agents.scenario import load_scenario
from tui.commands.cli import run_cli
from tui.core.diagnostics import Check
from tui.core.events import ObserverStatus, ParticipantJoined, TranscriptSegment
from tui.core.record.notes import RecordClosed, RecordStarted
from tui.core.record.recorder import CallRecorder
from tui.core.record.report_json import build_report


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    recorder = CallRecorder(tmp_path / "run", ROOM, scenario="HDX-2478")
    synthetic_call(recorder, recorder.t0)
    hostile = '<script>alert(1)</script> & "quotes"'
    recorder.apply(
        TranscriptSegment(ROOM, "driver-chris", "SG_9", hostile, True, at=recorder.t0 + 3.5)
    )
    return recorder.close()


def report(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["report", *argv], environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_summary_names_agents_and_figures(run_dir: Path) -> None:
    code, out, err = report(str(run_dir))
    assert code == 0, err
    assert f"room {ROOM} · scenario HDX-2478" in out
    assert "Tim (dispatcher-tim, dispatcher): 1 turns" in out
    assert "Chris (driver-chris, driver): 1 turns" in out
    assert "turn-taking: gap p50 500 ms" in out
    assert "fail: audio.driver" not in out  # no finding was recorded in this run


def test_the_html_page_is_self_contained_and_escaped(run_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "call.html"
    code, _, err = report(str(run_dir), "--html", str(page))
    assert code == 0, err
    html = page.read_text()
    assert '<svg id="timeline"' in html and 'class="speech"' in html
    assert html.count("data:audio/wav;base64,") == 2
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    for external in ("http://", "https://", ' src="/', "<link"):
        assert external not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.stat().st_mode & 0o044  # a normal file, not mkstemp's private one


def _broken(run_dir: Path, how: str) -> None:
    report_path = run_dir / "report.json"
    if how == "no report":
        report_path.unlink()
    elif how == "cut report":
        report_path.write_text(report_path.read_text()[:200])
    elif how == "no agents":
        data = json.loads(report_path.read_text())
        del data["agents"]
        report_path.write_text(json.dumps(data))
    elif how == "no wav":
        (run_dir / "driver-chris.wav").unlink()
    elif how == "cut wav":
        wav = run_dir / "driver-chris.wav"
        wav.write_bytes(wav.read_bytes()[:1000])
    elif how == "not a wav":
        (run_dir / "driver-chris.wav").write_bytes(b"RIFF nonsense")
    elif how == "bad types":
        data = json.loads(report_path.read_text())
        data["agents"]["dispatcher-tim"]["speaking_s"] = "lots"
        report_path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("how", "problem"),
    [
        ("no report", "no report.json, so the recording never finished"),
        ("cut report", "report.json: not valid JSON"),
        ("no agents", "'agents' is missing or not a object"),
        ("no wav", "driver-chris.wav: missing"),
        ("cut wav", "driver-chris.wav: truncated"),
        ("not a wav", "driver-chris.wav: not a readable WAV"),
        ("bad types", "report.json is malformed"),
    ],
)
def test_a_bad_run_directory_is_one_line_and_exit_2(
    run_dir: Path, tmp_path: Path, how: str, problem: str
) -> None:
    _broken(run_dir, how)
    page = tmp_path / "call.html"
    code, out, err = report(str(run_dir), "--html", str(page))
    assert code == 2
    assert problem in err
    assert err.count("\n") == 1 and err.startswith("dispatch-tui report: ")
    assert out == "" and not page.exists()


def test_not_a_directory_and_a_missing_html_folder(run_dir: Path, tmp_path: Path) -> None:
    code, _, err = report(str(tmp_path / "nowhere"))
    assert code == 2 and "not a directory" in err and err.count("\n") == 1
    code, _, err = report(str(run_dir), "--html", str(tmp_path / "no" / "x.html"))
    assert code == 2 and "does not exist" in err
    assert run_cli(["report"], environ={}, stdout=io.StringIO(), stderr=io.StringIO()) == 2


def test_live_turn_findings_give_way_to_the_ones_over_the_whole_record(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "run", ROOM)
    synthetic_call(recorder, recorder.t0)
    live = Check("turn.overlap", "One speaker at a time", "ok", "no overlap")
    recorder.finding(live, at=recorder.t0 + 1.0)
    recorder.finding(Check("turn.deadlock", "Someone takes the turn", "pending", "…"))
    findings = json.loads((recorder.close() / "report.json").read_text())["findings"]
    ids = [finding["id"] for finding in findings]
    assert sorted(ids) == ["turn.deadlock", "turn.overlap"]  # once each
    by_id = {finding["id"]: finding for finding in findings}
    assert by_id["turn.overlap"]["at_s"] == 1.0  # the live check already said so at 1 s
    assert by_id["turn.deadlock"]["status"] == "ok" and by_id["turn.deadlock"]["at_s"] is None


def test_a_three_agent_record_gives_each_agent_its_scenario_role() -> None:

    metadata = load_scenario(bundled_scenarios_dir() / "kdc-3107.json").to_json()
    people = [("dispatcher-tim", "Tim"), ("driver-chris", "Chris"), ("receiver-rosa", "Rosa")]
    events: list[object] = [
        RecordStarted(ROOM, "KDC-3107", "2026-12-01T00:00:00Z", at=0.0),
        *(ParticipantJoined(ROOM, identity, name, "agent", at=0.5) for identity, name in people),
        ObserverStatus(ROOM, "connected", at=1.0, metadata=metadata),
        RecordClosed(ROOM, "recording stopped", "2026-12-01T00:00:10Z", at=10.0),
    ]
    agents = build_report(events)["agents"]
    assert {identity: agents[identity]["role"] for identity, _ in people} == {
        "dispatcher-tim": "dispatcher",
        "driver-chris": "driver",
        "receiver-rosa": "receiver",  # the guide's pair rule alone calls her unmatched
    }
