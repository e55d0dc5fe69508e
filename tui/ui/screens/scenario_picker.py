"""Pick a scenario file to create a room from."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.core.scenario_catalog import CatalogEntry


class ScenarioPicker(ModalScreen[Path | None]):
    """A list of scenarios; Enter creates a room from the highlighted one. Files that fail
    validation are shown disabled, with the reason."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, entries: list[CatalogEntry], searched: list[Path]) -> None:
        super().__init__()
        self._entries = entries
        self._searched = searched

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box", classes="modal-box"):
            yield Static("New room from scenario  (Enter: create, Esc: cancel)", classes="title")
            if self._entries:
                yield OptionList(
                    *[
                        Option(entry.label, id=str(index), disabled=entry.scenario is None)
                        for index, entry in enumerate(self._entries)
                    ],
                    id="scenario-list",
                    markup=False,
                )
            else:
                folders = ", ".join(str(path) for path in self._searched) or "(none)"
                yield Static(
                    f"No scenario files found in {folders}. Add *.json files or pass --scenarios.",
                    markup=False,
                )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        index = int(event.option.id or 0)
        self.dismiss(self._entries[index].path)

    def action_cancel(self) -> None:
        self.dismiss(None)
