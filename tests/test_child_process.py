"""tui.core.child_process: children start in their own group and never outlive terminate()."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from tui.core.child_process import ChildExited, log_tail, spawn, terminate, wait_ready

# a child that ignores SIGTERM and has a grandchild: only the group kill stops both
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("ready", flush=True)
time.sleep(60)
"""


def test_terminate_kills_a_stubborn_child_and_its_grandchildren(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    process = spawn([sys.executable, "-c", STUBBORN], log)
    assert wait_ready(process, lambda: "ready" in log.read_text(), 30)
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children()]
    assert len(family) == 2
    terminate(process, timeout_s=0.5)
    assert process.returncode is not None
    # SIGKILL lands asynchronously: the orphaned grandchild may take a moment to go (or stay a
    # zombie if nothing reaps it); a survivor still running after that is the failure
    _gone, alive = psutil.wait_procs(family, timeout=5)
    for member in alive:
        assert member.status() == psutil.STATUS_ZOMBIE, member


def test_a_child_dying_during_start_up_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    process = spawn([sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], log)
    with pytest.raises(ChildExited) as raised:
        wait_ready(process, lambda: False, 30)
    assert raised.value.returncode == 3
    assert log_tail(log) == "bad config"
    terminate(process, timeout_s=1)


def test_wait_ready_gives_up_after_the_timeout(tmp_path: Path) -> None:
    process = spawn([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "c.log")
    try:
        assert wait_ready(process, lambda: False, 0.2) is False
    finally:
        terminate(process, timeout_s=1)
