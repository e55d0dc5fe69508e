"""``dispatch-tui run``'s command line: bad input exits 2 in one line and writes nothing; good
input becomes a plan with every scenario loaded."""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import PROJECT

from tui.commands.cli import build_parser, run_cli
from tui.commands.run_args import RunInputError, build_plan, scenario_files
from tui.core.local_server import free_port
from tui.core.settings import LiveKitSettings

SCENARIOS = PROJECT / "scenarios"
HDX = SCENARIOS / "hdx-2478.json"
TQR = SCENARIOS / "tqr-1193.json"
SERVER = {
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "k",
    "LIVEKIT_API_SECRET": "S" * 40,
}


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer .env may leak in, and relative output paths land in the test's folder."""
    monkeypatch.chdir(tmp_path)


def run(argv: list[str], environ: dict[str, str] | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["run", *argv], environ=environ or {}, stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


def one_line(text: str) -> str:
    stripped = text.rstrip("\n")
    assert stripped and "\n" not in stripped and stripped.isprintable(), repr(text)
    return stripped


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _bad_scenario(folder: Path) -> Path:
    data = json.loads(HDX.read_text(encoding="utf-8"))
    data["expect"] = {"transcript": {"driver": {"must_match": ["(34"]}}}
    path = folder / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _setup(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "mixed").mkdir()
    shutil.copy(HDX, tmp_path / "mixed" / "a.json")
    _bad_scenario(tmp_path / "mixed")
    (tmp_path / "out").mkdir()


BAD: list[tuple[str, list[str], dict[str, str], str]] = [
    ("repeat zero", ["--repeat", "0"], {}, "argument --repeat: 0 is outside 1-1000"),
    ("repeat text", ["--repeat", "twice"], {}, "invalid whole number 'twice'"),
    ("concurrency over", ["--concurrency", "21"], {}, "argument --concurrency: 21 is outside 1-20"),
    ("voice", ["--voice", "loud"], {}, "argument --voice: invalid choice: 'loud'"),
    ("unknown flag", ["--bogus"], {}, "unrecognized arguments: --bogus"),
    ("missing file", ["none.json"], {}, "none.json: no such file; pass a scenario JSON"),
    ("empty folder", ["empty"], {}, "empty: no *.json scenario in this folder"),
    (
        "bad contract in a folder",
        ["mixed"],
        {},
        "mixed/bad.json: field 'expect.transcript.driver.must_match[0]': expected a valid",
    ),
    ("junit folder missing", ["--junit", "nope/r.xml"], {}, "--junit nope/r.xml: no folder nope"),
    ("junit is a folder", ["--junit", "out"], {}, "--junit out: is a folder"),
    (
        "same output twice",
        ["--junit", "out/r", "--json", "out/r"],
        {},
        "--junit and --json both name out/r",
    ),
    (
        "output over a scenario",
        ["mixed/a.json", "--json", "mixed/a.json"],
        {},
        "--json mixed/a.json: is one of the scenarios",
    ),
    ("no-worker without a server", ["--no-worker"], {}, "run --no-worker needs the server"),
    (
        "no-worker with a voice",
        ["--no-worker", "--voice", "offline"],
        SERVER,
        "--voice sets the in-process worker's voice and --no-worker has none",
    ),
]


@pytest.mark.parametrize(
    ("argv", "environ", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_input_exits_2_in_one_line_and_writes_nothing(
    tmp_path: Path, argv: list[str], environ: dict[str, str], fragment: str
) -> None:
    _setup(tmp_path)
    before = files_in(tmp_path)
    # An output file that would be valid: refused input must not create it either.
    extra = [] if {"--junit", "--json"} & set(argv) else ["--json", "out/r.json"]
    result = run([*argv, *extra], environ)
    assert result.code == 2, result
    line = one_line(result.err)
    assert line.startswith("dispatch-tui") and fragment in line, line
    assert result.out == ""
    assert files_in(tmp_path) == before


def test_an_unwritable_output_folder_is_bad_input(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as root: every folder is writable")
    result = run([str(HDX), "--json", str(locked / "r.json")])
    assert result.code == 2 and "not writable" in one_line(result.err)


def test_valid_input_then_an_unreachable_server_exits_2_in_one_line(tmp_path: Path) -> None:
    server = {**SERVER, "LIVEKIT_URL": f"ws://127.0.0.1:{free_port()}"}  # nothing listens
    result = run([str(SCENARIOS), "--repeat", "2", "--junit", "j.xml", "--json", "r.json"], server)
    assert result.code == 2, result
    line = one_line(result.err)
    assert line.startswith("dispatch-tui: run: ") and "unreachable at ws://127.0.0.1:" in line
    assert line.endswith("; no call was placed"), line
    assert result.out == "" and files_in(tmp_path) == []


def test_folders_expand_sorted_files_count_once_and_the_default_is_the_bundled_set(
    tmp_path: Path,
) -> None:
    shutil.copy(HDX, tmp_path / "b.json")
    shutil.copy(TQR, tmp_path / "a.json")
    (tmp_path / "notes.txt").write_text("not a scenario", encoding="utf-8")
    files = scenario_files([tmp_path, tmp_path / "b.json", Path("b.json")])
    assert files == [tmp_path / "a.json", tmp_path / "b.json"]
    plan = build_plan(build_parser().parse_args(["run"]), None)
    assert [s.load_id for s in plan.scenarios] == ["FBK-5520", "HDX-2478", "KDC-3107", "TQR-1193"]


def test_a_plan_carries_every_option_and_lists_its_calls(tmp_path: Path) -> None:
    settings = LiveKitSettings("ws://127.0.0.1:7880", "k", "S" * 40, "flags")
    args = build_parser().parse_args(
        [
            "run",
            str(TQR),
            str(HDX),
            "--repeat",
            "2",
            "--concurrency",
            "3",
            "--junit",
            "j.xml",
            "--json",
            "r.json",
            "--no-worker",
        ]
    )
    plan = build_plan(args, settings)
    assert [s.load_id for s in plan.scenarios] == ["TQR-1193", "HDX-2478"]
    assert (plan.repeat, plan.concurrency, plan.junit, plan.json) == (
        2,
        3,
        Path("j.xml"),
        Path("r.json"),
    )
    assert (plan.no_worker, plan.voice, plan.settings) == (True, None, settings)
    assert [(c.scenario.load_id, c.index) for c in plan.calls()] == [
        ("TQR-1193", 1),
        ("TQR-1193", 2),
        ("HDX-2478", 1),
        ("HDX-2478", 2),
    ]
    assert all(c.scenario.expect is not None for c in plan.calls())


@pytest.mark.parametrize(
    "argv",
    [["--voice", "offline", "run", str(HDX)], ["run", str(HDX), "--voice", "offline"]],
    ids=["before run", "after run"],
)
def test_voice_and_no_worker_work_before_or_after_the_command(argv: list[str]) -> None:
    plan = build_plan(build_parser().parse_args(argv), None)
    assert plan.voice == "offline" and plan.no_worker is False
    settings = LiveKitSettings("ws://127.0.0.1:7880", "k", "S" * 40, "flags")
    for where in (["--no-worker", "run"], ["run", "--no-worker"]):
        assert build_plan(build_parser().parse_args(where), settings).no_worker is True


def test_plan_errors_are_run_input_errors() -> None:
    with pytest.raises(RunInputError, match="--no-worker needs"):
        build_plan(build_parser().parse_args(["run", "--no-worker"]), None)


def test_help_lists_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["run", "--help"], environ={}) == 0
    text = capsys.readouterr().out
    for flag in ("--repeat", "--concurrency", "--junit", "--json", "--voice", "--no-worker"):
        assert flag in text
