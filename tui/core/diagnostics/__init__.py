"""The troubleshooting checks: the engine, the read-only facts it gathers, and one module per
check group (``infra``, ``voice``, ``room``, ``audio``)."""

from tui.core.diagnostics.check import Check, Status, Thresholds, summary, worst
from tui.core.diagnostics.engine import Diagnostics

__all__ = ["Check", "Diagnostics", "Status", "Thresholds", "summary", "worst"]
