"""The diagnostics screen (key ``t``): the checks panel over the dashboard, refreshed live."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.core.diagnostics import Check
from tui.ui.widgets.diagnostics_panel import DiagnosticsPanel


class DiagnosticsScreen(ModalScreen[None]):
    """Shows ``snapshot()`` every ``interval_s`` seconds; Esc, q or t closes it.

    ``snapshot`` is called on the app's thread (e.g. ``lambda: app.diagnostics.evaluate(
    time.monotonic())``), so it may read the app's state freely.
    """

    DEFAULT_CSS = """
    DiagnosticsScreen { align: center middle; }
    DiagnosticsScreen #diagnostics-box {
        width: 90%; max-width: 120; height: 80%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    DiagnosticsScreen .title { text-style: bold; height: 1; }
    DiagnosticsScreen .dim { color: $text-muted; height: 1; }
    """
    BINDINGS = [Binding("escape,q,t", "close", "Close")]

    def __init__(self, snapshot: Callable[[], list[Check]], *, interval_s: float = 0.5) -> None:
        super().__init__()
        self._snapshot = snapshot
        self._interval_s = interval_s

    def compose(self) -> ComposeResult:
        with Vertical(id="diagnostics-box"):
            yield Static("Troubleshooting", classes="title")
            yield DiagnosticsPanel(id="diagnostics-panel")
            yield Static("Esc/t closes. Checks refresh live.", classes="dim")

    def on_mount(self) -> None:
        self.refresh_checks()
        self.set_interval(self._interval_s, self.refresh_checks)

    def refresh_checks(self) -> None:
        """Evaluate now and render."""
        self.query_one(DiagnosticsPanel).show(self._snapshot())

    def action_close(self) -> None:
        self.dismiss(None)
