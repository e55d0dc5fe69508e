"""Every key binding of the dashboard, with what it does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def describe_bindings(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """(keys, description) for every binding that has a description."""
    rows = []
    for binding in bindings:
        if isinstance(binding, Binding):
            keys, description = binding.key_display or binding.key, binding.description
        else:
            keys, description = binding[0], binding[2] if len(binding) > 2 else ""
        if description:
            rows.append((keys, description))
    return rows


def binding_commands(
    bindings: Iterable[BindingType], run_action: Callable[[str], Any]
) -> Iterable[SystemCommand]:
    """A command-palette entry for every described binding but quit (the palette has its own)."""
    for binding in bindings:
        if isinstance(binding, Binding) and binding.action not in ("quit",):
            keys = binding.key_display or binding.key
            yield SystemCommand(
                binding.description,
                f"key: {keys}",
                lambda action=binding.action: run_action(action),
            )


class HelpScreen(ModalScreen[None]):
    """A scrollable table of key bindings; any of Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(keys) for keys, _ in self._rows), default=4) + 2
        text = "\n".join(f"{keys:<{width}}{description}" for keys, description in self._rows)
        with VerticalScroll(id="help-box", classes="modal-box"):
            yield Static("Keys", classes="title")
            yield Static(text, id="help-table", markup=False)
            yield Static("Ctrl+P opens the command palette with every action.", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)
