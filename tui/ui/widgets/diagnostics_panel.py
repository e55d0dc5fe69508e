"""The diagnostics panel: one row per check, coloured by its status through a class."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.core.diagnostics import Check, summary

STATUS_CLASSES = ("-ok", "-warn", "-fail", "-pending")
STATUS_MARKS = {"ok": "✓ ok     ", "warn": "! warn   ", "fail": "✗ FAIL   ", "pending": "… pending"}


def describe_check(check: Check) -> Text:
    """A check as plain text (findings carry identities and errors from the room: no markup)."""
    text = Text()
    text.append(STATUS_MARKS[check.status], style="bold")
    text.append(f" {check.title}", style="bold")
    text.append(f"  [{check.id}]", style="dim")
    text.append("\n          ")
    text.append(check.finding)
    if check.status != "ok" and check.fix:
        text.append("\n          fix: ", style="dim")
        text.append(check.fix, style="italic")
    return text


class CheckRow(Static):
    """One check; its status is a class (-ok, -warn, -fail, -pending)."""

    def show(self, check: Check) -> None:
        self.update(describe_check(check))
        for cls in STATUS_CLASSES:
            self.set_class(cls == f"-{check.status}", cls)


class DiagnosticsPanel(VerticalScroll):
    """Every check with its finding and fix; :meth:`show` renders a snapshot in place."""

    DEFAULT_CSS = """
    DiagnosticsPanel { height: 1fr; }
    DiagnosticsPanel #diagnostics-summary { height: 1; text-style: bold; margin-bottom: 1; }
    DiagnosticsPanel CheckRow { height: auto; padding: 0 1; }
    DiagnosticsPanel CheckRow.-ok { color: $success; }
    DiagnosticsPanel CheckRow.-warn { color: $warning; }
    DiagnosticsPanel CheckRow.-fail { color: $error; background: $error 10%; }
    DiagnosticsPanel CheckRow.-pending { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Check, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static("checks: …", id="diagnostics-summary", markup=False)

    def show(self, checks: Sequence[Check]) -> None:
        """Render ``checks``: rows are created once per id and updated in place afterwards."""
        snapshot = tuple(checks)
        if snapshot == self._shown:
            return  # nothing changed: no re-layout
        self._shown = snapshot
        self.query_one("#diagnostics-summary", Static).update(summary(snapshot))
        wanted = {f"check-{check.id.replace('.', '-')}": check for check in snapshot}
        for row in list(self.query(CheckRow)):
            if row.id not in wanted:
                row.remove()
        for row_id, check in wanted.items():
            found = self.query(f"#{row_id}")
            if found:
                found.first(CheckRow).show(check)
            else:
                row = CheckRow(id=row_id, markup=False)
                self.mount(row)
                row.show(check)
