"""One line under the header: server, worker and observer state, each with its own colour."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from tui.core.backend import ServerStatus
from tui.core.events import ObserverStatus
from tui.core.worker_runner import WorkerStatus

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

    def show_worker_status(self, status: WorkerStatus) -> None:
        """The agent worker's state in words, coloured by health."""
        text = {
            "registered": f"registered {status.worker_id} as {status.agent_name!r}",
            "failed": f"failed: {status.detail}",
        }.get(status.state, status.state)
        health = {"registered": "ok", "failed": "bad", "stopped": "bad"}.get(
            status.state, "pending"
        )
        self.set_worker(text, health)

    def show_observer_status(self, event: ObserverStatus) -> None:
        """The observer's state in the observed room; the detail only when it is bad."""
        health = {
            "connected": "ok",
            "reconnected": "ok",
            "failed": "bad",
            "disconnected": "bad",
        }.get(event.state, "pending")
        detail = f" ({event.detail})" if event.detail and health == "bad" else ""
        self.set_observer(f"{event.state} {event.room}{detail}", health)

    def show_server_status(self, status: ServerStatus) -> None:
        """The server's URL once ready (and whether it is local), or what went wrong."""
        if status.state == "ready":
            where = "local" if status.local else status.detail
            self.set_server(f"{status.url} ({where})", "ok")
        elif status.state == "failed":
            self.set_server(f"failed: {status.detail}", "bad")
        else:
            self.set_server(f"{status.detail}…", "pending")
