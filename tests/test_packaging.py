"""A non-editable install carries what the code reads from the source tree in a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import PROJECT, scaled


def test_the_wheel_ships_the_bundled_scenarios_and_the_stylesheet(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), "."],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=scaled(120),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("dispatch_tui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"agents/scenarios/{path.name}" for path in (PROJECT / "scenarios").glob("*.json")}
    assert expected and expected <= names
    assert "tui/ui/app.tcss" in names
