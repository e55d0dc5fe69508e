"""One line under the header: server, worker and observer state, each with its own colour."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

STATE_CLASSES = ("-ok", "-pending", "-bad")


class StatusItem(Static):
    """A labelled status whose colour comes from a class: -ok, -pending or -bad."""

    _shown: tuple[str, str] | None = None

    @property
    def text(self) -> str:
        """The text as last shown."""
        return self._shown[0] if self._shown else ""

    def show(self, text: str, health: str) -> None:
        # Static.update re-lays out the whole screen even for unchanged text, and the checks
        # line is set on every pane render (2 to 10 times a second during a call).
        if (text, health) == self._shown:
            return
        self._shown = (text, health)
        self.update(text)
        for cls in STATE_CLASSES:
            self.set_class(cls == f"-{health}", cls)


class StatusBar(Horizontal):
    """Server URL, worker state, observer state and the diagnostics summary."""

    def compose(self) -> ComposeResult:
        yield StatusItem("server: …", id="status-server", markup=False)
        yield StatusItem("worker: …", id="status-worker", markup=False)
        yield StatusItem("observer: …", id="status-observer", markup=False)
        yield StatusItem("checks: …", id="status-checks", markup=False)

    def set_server(self, text: str, health: str) -> None:
        self.query_one("#status-server", StatusItem).show(f"server: {text}", health)

    def set_worker(self, text: str, health: str) -> None:
        self.query_one("#status-worker", StatusItem).show(f"worker: {text}", health)

    def set_observer(self, text: str, health: str) -> None:
        self.query_one("#status-observer", StatusItem).show(f"observer: {text}", health)

    def set_checks(self, text: str, health: str) -> None:
        """The diagnostics' worst state (details on key t)."""
        self.query_one("#status-checks", StatusItem).show(f"{text} (t)", health)
