"""Where runs go and how many are kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.core.record.store import (
    Retention,
    RunStore,
    StoreError,
    default_runs_dir,
    safe_name,
)


def test_the_default_follows_xdg_state_home(tmp_path: Path) -> None:
    assert default_runs_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "dispatch-tui" / "runs"
    assert default_runs_dir({"HOME": "/x"}).parts[-4:] == (
        ".local",
        "state",
        "dispatch-tui",
        "runs",
    )
    assert default_runs_dir({"DISPATCH_RECORD_DIR": "/tmp/r"}) == Path("/tmp/r")


def test_names_become_one_safe_path_component() -> None:
    assert safe_name("conv_HDX-2478_x") == "conv_HDX-2478_x"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("a b/c\x00d") == "a_b_c_d"
    assert safe_name("...", "room") == "room"
    assert len(safe_name("x" * 500)) == 100


def test_retention_from_the_environment() -> None:
    assert Retention.from_env({}) == Retention(50, 1000.0)
    assert Retention.from_env(
        {"DISPATCH_RECORD_KEEP_RUNS": "3", "DISPATCH_RECORD_KEEP_MB": "2.5"}
    ) == Retention(3, 2.5)
    for bad in (
        {"DISPATCH_RECORD_KEEP_RUNS": "many"},
        {"DISPATCH_RECORD_KEEP_MB": "0"},
        {"DISPATCH_RECORD_KEEP_RUNS": "0"},
    ):
        with pytest.raises(StoreError) as info:
            Retention.from_env(bad)
        assert "\n" not in str(info.value)


def _run(store: RunStore, room: str, size: int, mtime: float) -> Path:
    path = store.new_run(room)
    (path / "a.wav").write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_the_same_room_twice_gets_two_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.new_run("r").name == "r"
    assert store.new_run("r").name == "r.2"
    assert store.new_run("r").name == "r.3"


def test_oldest_runs_go_first_by_count(tmp_path: Path) -> None:
    store = RunStore(tmp_path, Retention(max_runs=3))
    made = [_run(store, f"r{i}", 10, 1000 + i) for i in range(3)]
    newest = store.new_run("r3")  # room for it: r0 goes
    assert [p.name for p in store.runs()][-1] == newest.name
    assert not made[0].exists() and made[1].exists() and made[2].exists()


def test_oldest_runs_go_first_by_size(tmp_path: Path) -> None:
    store = RunStore(tmp_path, Retention(max_runs=100, max_mb=0.0025))  # 2500 bytes
    old = _run(store, "old", 1500, 1000)
    mid = _run(store, "mid", 900, 1001)
    assert store.prune() == []
    new = _run(store, "new", 900, 1002)
    assert store.prune() == [old]
    assert mid.exists() and new.exists()
