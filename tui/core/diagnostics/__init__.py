"""The troubleshooting checks: the engine and one module per check group."""

from tui.core.diagnostics.engine import (
    Check,
    Diagnostics,
    LogErrorCounter,
    Thresholds,
    summary,
    worst,
)

__all__ = ["Check", "Diagnostics", "LogErrorCounter", "Thresholds", "summary", "worst"]
