"""Where call records live and how many are kept.

Runs go to ``$XDG_STATE_HOME/dispatch-tui/runs/<room>/`` (``~/.local/state`` when unset), one
directory per recorded call; a room recorded again gets ``<room>.2``, ``<room>.3``... Before a
new run starts, the oldest runs are deleted until at most :attr:`Retention.max_runs` remain and
they take at most :attr:`Retention.max_mb` together; the same budget caps one run's audio.
``DISPATCH_RECORD_KEEP_RUNS`` and ``DISPATCH_RECORD_KEEP_MB`` change the defaults.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger("tui.record")

RUNS_VAR: Final = "DISPATCH_RECORD_DIR"
KEEP_RUNS_VAR: Final = "DISPATCH_RECORD_KEEP_RUNS"
KEEP_MB_VAR: Final = "DISPATCH_RECORD_KEEP_MB"
EVENTS_FILE: Final = "events.jsonl"
REPORT_FILE: Final = "report.json"
DEFAULT_RUNS: Final = 50
DEFAULT_MB: Final = 1000.0
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


class StoreError(ValueError):
    """A retention setting that cannot work (one line naming the fix)."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How much recording is kept: the newest ``max_runs`` runs, ``max_mb`` MB in all."""

    max_runs: int = DEFAULT_RUNS
    max_mb: float = DEFAULT_MB

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1_000_000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Retention:
        """The defaults, changed by :data:`KEEP_RUNS_VAR` and :data:`KEEP_MB_VAR`."""
        env = os.environ if environ is None else environ
        runs, mb = env.get(KEEP_RUNS_VAR, "").strip(), env.get(KEEP_MB_VAR, "").strip()
        try:
            max_runs = int(runs) if runs else DEFAULT_RUNS
            max_mb = float(mb) if mb else DEFAULT_MB
        except ValueError:
            raise StoreError(
                f"{KEEP_RUNS_VAR}={runs!r} / {KEEP_MB_VAR}={mb!r}: use a whole number of runs "
                "and a number of megabytes"
            ) from None
        if max_runs < 1 or not max_mb > 0:
            raise StoreError(
                f"{KEEP_RUNS_VAR} must be at least 1 and {KEEP_MB_VAR} above 0 "
                f"(got {max_runs} and {max_mb:g})"
            )
        return cls(max_runs=max_runs, max_mb=max_mb)


def default_runs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$DISPATCH_RECORD_DIR``, else ``$XDG_STATE_HOME/dispatch-tui/runs``."""
    env = os.environ if environ is None else environ
    if env.get(RUNS_VAR):
        return Path(env[RUNS_VAR])
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dispatch-tui" / "runs"


def safe_name(name: str, fallback: str = "unnamed") -> str:
    """``name`` as one path component: letters, digits, ``._-`` only, never hidden or empty."""
    cleaned = _UNSAFE.sub("_", name).strip("._")[:100]
    return cleaned or fallback


def dir_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if it vanished)."""
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:
            continue
    return total


class RunStore:
    """The runs directory: creates run directories and applies the retention."""

    def __init__(self, root: Path | None = None, retention: Retention | None = None) -> None:
        self.root = root if root is not None else default_runs_dir()
        self.retention = retention or Retention()

    def runs(self) -> list[Path]:
        """Every run directory, oldest first (by modification time)."""
        if not self.root.is_dir():
            return []
        found = [path for path in self.root.iterdir() if path.is_dir()]
        return sorted(found, key=lambda path: (path.stat().st_mtime, path.name))

    def new_run(self, room: str) -> Path:
        """Make room for a run (retention), then create and return its directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.prune(keep_free_runs=1)
        base = safe_name(room, "room")
        path, number = self.root / base, 1
        while True:
            try:
                path.mkdir()
                return path
            except FileExistsError:
                number += 1
                path = self.root / f"{base}.{number}"

    def prune(self, keep_free_runs: int = 0) -> list[Path]:
        """Delete the oldest runs beyond the retention; return what was deleted."""
        runs = self.runs()
        sizes = {path: dir_bytes(path) for path in runs}
        deleted: list[Path] = []
        while runs and (
            len(runs) + keep_free_runs > self.retention.max_runs
            or sum(sizes[path] for path in runs) > self.retention.max_bytes
        ):
            oldest = runs.pop(0)
            shutil.rmtree(oldest, ignore_errors=True)
            deleted.append(oldest)
            logger.info("deleted old call record %s (retention)", oldest)
        return deleted
