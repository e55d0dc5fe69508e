"""Every room on the server with its participant count; the highlighted one is observed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from textual.widgets import OptionList
from textual.widgets.option_list import Option


class RoomRow(Protocol):
    """What the list needs of a room (the control plane's RoomSummary provides it)."""

    @property
    def name(self) -> str: ...

    @property
    def num_participants(self) -> int: ...


class RoomList(OptionList):
    """Rooms by name with their participant count and, once known, the worker running each
    room's job; keeps the highlight on the same room name across refreshes."""

    BINDINGS = [("j", "cursor_down", "Next room"), ("k", "cursor_up", "Previous room")]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.room_names: list[str] = []

    def show_rooms(
        self,
        rooms: Sequence[RoomRow],
        observed: str | None,
        workers: Mapping[str, str] | None = None,
    ) -> None:
        """Show ``rooms``; ``workers`` maps a room to the worker running its job, if known."""
        names = [room.name for room in rooms]
        workers = workers or {}
        labels = [
            f"{room.name}  ({room.num_participants})"
            # on its own line: a worker label beside the name would wrap in the narrow list
            + (f"\n  {workers[room.name]}" if room.name in workers else "")
            for room in rooms
        ]
        current = [str(option.prompt) for option in self.options]
        if labels == current:
            return
        # The highlight follows the observed room (moving it switches the observer).
        keep = self.highlighted_option.id if self.highlighted_option else None
        self.room_names = names
        with self.prevent(OptionList.OptionHighlighted):
            self.clear_options()
            self.add_options(
                [Option(label, id=name) for label, name in zip(labels, names, strict=True)]
            )
            target = observed if observed in names else keep
            if target in names:
                self.highlighted = names.index(target)
        self.border_subtitle = f"{len(names)} room{'s' if len(names) != 1 else ''}"

    def select_room(self, name: str) -> None:
        if name in self.room_names:
            with self.prevent(OptionList.OptionHighlighted):
                self.highlighted = self.room_names.index(name)
