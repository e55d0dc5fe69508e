"""The dashboard app (placeholder screen until the dashboard work lands)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class DispatchApp(App[None]):
    """dispatch-tui's Textual application."""

    TITLE = "dispatch-tui"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("dispatch-tui: the dashboard is being built.", id="placeholder")
        yield Footer()


def run_dashboard() -> int:
    DispatchApp().run()
    return 0
