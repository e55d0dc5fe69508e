"""The real terminal program, driven through tmux as a person would: type, read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers import eventually, scaled

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
SESSION = f"dispatch-tui-test-{os.getpid()}"
PROGRAM = Path(sys.executable).parent / "dispatch-tui"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


async def wait_for_screen(text: str, timeout_s: float = 40.0) -> str:
    """The screen once ``text`` is on it (polled every 0.2 s)."""

    def showing() -> str:
        shown = screen()
        return shown if text in shown else ""

    try:
        return await eventually(showing, timeout_s, repr(text), interval_s=0.2)
    except AssertionError:
        last = screen()
        raise AssertionError(f"{text!r} never appeared on screen; last screen:\n{last}") from None


async def test_dashboard_in_a_real_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "OPENAI_"))}
    env.update(DISPATCH_TUI_LOG_DIR=str(tmp_path), DISPATCH_VOICE="offline", TERM="xterm-256color")
    command = f"cd {tmp_path} && exec {PROGRAM}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", SESSION, "-x", "170", "-y", "50", command],
        check=True,
        env=env,
    )
    try:
        pane_pid = int(tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())
        app = psutil.Process(pane_pid)
        await wait_for_screen("worker: registered")
        tmux("send-keys", "-t", SESSION, "n")
        await wait_for_screen("New room from scenario")
        tmux("send-keys", "-t", SESSION, "Enter")  # the first scenario
        shown = await wait_for_screen("identity dispatcher-tim")
        shown = await wait_for_screen("● SPEAKING")
        assert "identity driver-" in screen()
        children = app.children(recursive=True)
        assert any("livekit-server" in child.name() for child in children), children
        started = time.monotonic()
        tmux("send-keys", "-t", SESSION, "q")
        app.wait(timeout=scaled(10))
        took = time.monotonic() - started
        assert took < 5, f"quitting took {took:.1f}s"
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child
        assert "dispatch-tui: log written to" not in shown
        assert list(tmp_path.glob("dispatch-tui-*.log")), "the log file was not written"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
