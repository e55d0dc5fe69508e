"""What ``dispatch-tui run`` will do, and what each call left: the seam between the command
line (``tui.commands.run_args`` builds a :class:`RunPlan`) and the code that places the calls
(``tui.core.call_runner.run_calls(plan, err) -> list[CallOutcome]``).

Everything here is validated before any call starts: the scenarios are loaded, the output
paths checked. A plan is plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from agents.scenario import Scenario
from tui.core.settings import LiveKitSettings


@dataclass(frozen=True)
class PlannedCall:
    """One call to place: a scenario and which of its ``--repeat`` calls this is (from 1)."""

    scenario: Scenario
    index: int


@dataclass(frozen=True)
class RunPlan:
    """A validated ``dispatch-tui run`` command line."""

    scenarios: tuple[Scenario, ...]
    """Loaded and validated, in the order given (folders expanded to their sorted ``*.json``)."""
    repeat: int = 1
    concurrency: int = 1
    """Calls in progress at once, at most."""
    junit: Path | None = None
    json: Path | None = None
    voice: str | None = None
    """``realtime``/``offline``, or None for the worker's default (realtime with a key)."""
    no_worker: bool = False
    """Workers elsewhere serve the calls: no in-process worker."""
    settings: LiveKitSettings | None = None
    """The server to use; None starts a local loopback server for the run."""

    def calls(self) -> list[PlannedCall]:
        """Every call, scenario by scenario: each scenario's repeats together."""
        return [
            PlannedCall(scenario, index)
            for scenario in self.scenarios
            for index in range(1, self.repeat + 1)
        ]


@dataclass(frozen=True)
class CallOutcome:
    """What one call left: its record (``report.json``, decoded) or why there is none."""

    call: PlannedCall
    report_path: Path | None
    report: Mapping[str, Any] | None
    error: str | None = None
    """One line when the call failed before writing a record (room refused, no agent, ...)."""


class RunSetupError(RuntimeError):
    """The run could not start (server unreachable, worker not registered...): the message is
    one line, and no call was placed."""


class CallRunner(Protocol):
    """Places every call of a plan and returns one outcome per ``plan.calls()``, in that
    order, reporting progress on ``err``. A failed call is an outcome with ``error``, never an
    exception; a run that cannot start at all raises :class:`RunSetupError`."""

    def __call__(self, plan: RunPlan, err: TextIO) -> list[CallOutcome]: ...
