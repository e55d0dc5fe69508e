"""Shared helpers for the benchmarks: statistics, machine info, process sampling, the table.

Nothing here talks to LiveKit; see ``bench/probe.py`` for the room side and
``bench/workers.py`` for the worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from agents.scenario import Scenario, parse_scenario

PROJECT_ROOT = Path(__file__).resolve().parent.parent

BENCH_SCRIPT: tuple[tuple[str, str], ...] = (
    ("dispatcher", "Hi Chris, it's Tim. Are you still waiting at Fresh Valley on HDX-2478?"),
    ("driver", "Yeah, three hours now. They say the lettuce is still in pre-cool."),
    ("dispatcher", "Thanks Chris, set the reefer to 34 and drive safe. Bye."),
    ("driver", "Thanks Tim. Talk soon, bye."),
)
"""Four lines of ``scenarios/hdx-2478.json`` ending in two goodbyes: a complete call in ~12 s.

The full eight-line scenario takes about twice as long and measures nothing more: every number
here is about joining, the first line, and whether calls finish.
"""


def bench_scenario(script: Sequence[tuple[str, str]] = BENCH_SCRIPT) -> Scenario:
    """The scenario every benchmark room gets (same personas as ``scenarios/hdx-2478.json``)."""
    return parse_scenario(
        {
            "load_id": "HDX-2478",
            "title": "Reefer load held at the shipper (benchmark)",
            "pickup": {"location": "Fresh Valley Produce, Salinas, CA", "time": "Tue 06:00 PT"},
            # both stops need a time: Scenario.to_json() writes "" for a missing one, which the
            # parser then rejects in the worker
            "delivery": {"location": "Kroger DC, Denver, CO", "time": "Thu 08:00 MT"},
            "situation": "Chris has been waiting three hours at the shipper.",
            "max_turns": len(script),
            "script": [{"speaker": speaker, "text": text} for speaker, text in script],
        },
        "bench",
    )


# -- statistics


def summarize(values: Iterable[float | None]) -> dict[str, Any]:
    """n, p50, p95, mean, min and max of the non-None values (None for each when empty).

    Percentiles interpolate linearly (numpy's default): with 20 samples p95 lies between the
    two slowest, which is as much as 20 samples can say.
    """
    data = [float(v) for v in values if v is not None]
    if not data:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}
    array = np.asarray(data)
    return {
        "n": len(data),
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "mean": float(array.mean()),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def rounded(value: Any, digits: int = 4) -> Any:
    """Round floats recursively so the JSON stays readable; NaN becomes None."""
    if isinstance(value, float):
        # NaN (a measurement that could not be taken) is not valid JSON: write null
        return None if value != value else round(value, digits)
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    return value


# -- machine


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _server_version() -> str:
    from tui.core.local_server import LocalServerError, find_server_binary

    try:
        binary = find_server_binary()
        reply = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (LocalServerError, OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    return reply.stdout.strip() or reply.stderr.strip() or "unknown"


def _package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in ("livekit", "livekit-agents", "livekit-api", "textual", "numpy", "psutil"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def _git_commit() -> str:
    try:
        reply = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return reply.stdout.strip() or "unknown"


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: CPUs, memory, Python, livekit-server, package versions."""
    memory = psutil.virtual_memory()
    return {
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_total_mb": round(memory.total / 2**20),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "livekit_server": _server_version(),
        "packages": _package_versions(),
        "git_commit": _git_commit(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the machine skews every number."""
    return [round(value, 2) for value in os.getloadavg()]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- process sampling


def _tree(process: psutil.Process, children: bool = True) -> list[psutil.Process]:
    if not children:
        return [process]
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def tree_cpu_seconds(process: psutil.Process, children: bool = True) -> float:
    """user + system CPU seconds of a process and (by default) its live children.

    Children that already exited are not counted (psutil only sees live ones); the workers
    measured here keep theirs alive for the whole measurement.
    """
    total = 0.0
    for member in _tree(process, children):
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def tree_rss_bytes(process: psutil.Process, children: bool = True) -> int:
    """Resident memory of a process and (by default) its live children."""
    total = 0
    for member in _tree(process, children):
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


@dataclass
class ResourceSample:
    """CPU and memory of a process tree over one measured window."""

    wall_s: float
    cpu_s: float
    rss_start_mb: float
    rss_peak_mb: float
    rss_end_mb: float

    @property
    def cpu_percent_of_core(self) -> float:
        """CPU time over wall time, in % of one core (200 % = both cores of this machine)."""
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "cpu_percent_of_core": self.cpu_percent_of_core,
            "rss_start_mb": self.rss_start_mb,
            "rss_peak_mb": self.rss_peak_mb,
            "rss_end_mb": self.rss_end_mb,
            "rss_growth_mb": self.rss_peak_mb - self.rss_start_mb,
        }


class ResourceMonitor:
    """Samples a process tree's RSS every ``interval_s`` on the running loop; CPU from deltas.

    Use ``async with ResourceMonitor(pid) as monitor`` around the measured window, then read
    ``monitor.result``. Sampling costs a few /proc reads per interval: negligible next to what
    is measured, and counted in it when ``pid`` is this process. Pass ``children=False`` for
    this process: its children are the livekit-server and the hosted worker, not the dashboard.
    """

    def __init__(self, pid: int, interval_s: float = 0.05, *, children: bool = True) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.children = children
        self.result: ResourceSample | None = None
        self._process = psutil.Process(pid)
        self._task: asyncio.Task[None] | None = None
        self._started_wall = 0.0
        self._started_cpu = 0.0
        self._rss_start = 0
        self._peak = 0

    async def __aenter__(self) -> ResourceMonitor:
        self._started_wall = time.monotonic()
        self._started_cpu = tree_cpu_seconds(self._process, self.children)
        self._rss_start = tree_rss_bytes(self._process, self.children)
        self._peak = self._rss_start
        self._task = asyncio.get_running_loop().create_task(self._sample(), name="bench:rss")
        return self

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            rss = await asyncio.to_thread(tree_rss_bytes, self._process, self.children)
            self._peak = max(self._peak, rss)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        end_rss = tree_rss_bytes(self._process, self.children)
        self.result = ResourceSample(
            wall_s=time.monotonic() - self._started_wall,
            cpu_s=tree_cpu_seconds(self._process, self.children) - self._started_cpu,
            rss_start_mb=self._rss_start / 2**20,
            rss_peak_mb=max(self._peak, end_rss) / 2**20,
            rss_end_mb=end_rss / 2**20,
        )


# -- targets and the table


@dataclass(frozen=True)
class Check:
    """One number held against a target from issue 6."""

    name: str
    value: float | None
    target: str
    passed: bool | None
    """None when the number could not be measured."""
    unit: str = ""
    why: str = ""
    """What the run measured about a missed target's cause (printed under the table)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "passed": self.passed,
            "why": self.why,
        }


def at_most(
    name: str, value: float | None, limit: float, unit: str, target: str, why: str = ""
) -> Check:
    """A check that passes when ``value <= limit``; ``why`` is printed if it does not."""
    return Check(name, value, target, None if value is None else value <= limit, unit, why)


def info(name: str, value: float | None, unit: str) -> Check:
    """A number reported without a target."""
    return Check(name, value, "", None, unit)


def fmt(value: float | None, unit: str = "") -> str:
    """A number for the table: seconds as ms below 10 s, others with sensible precision."""
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 10 else f"{value:.1f} s"
    if unit in ("%", "MB"):
        return f"{value:.1f} {unit}"
    if unit.startswith("/"):
        return f"{value:.0f}{unit}"
    if unit == "x":
        return f"{value:.2f}x"
    if unit:
        return f"{value:,.0f} {unit}"
    return f"{value:g}"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain aligned table (also valid Markdown, so it can be pasted into the README)."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def verdict(check: Check) -> str:
    if not check.target:
        return ""
    return {True: "pass", False: "FAIL", None: "n/a"}[check.passed]
