"""The keys that change rooms: create one from a scenario, re-dispatch, delete (after asking).

Each key pushes a screen or starts one ``control`` worker; a failure surfaces in
``DispatchApp.on_worker_state_changed`` like every other backend failure.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.scenario_catalog import BUILTIN_SCENARIOS, load_catalog
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.scenario_picker import ScenarioPicker

if TYPE_CHECKING:
    from tui.ui.app import DispatchApp


class RoomControls:
    """Create, re-dispatch and delete rooms for the dashboard ``app``."""

    def __init__(self, app: DispatchApp) -> None:
        self.app = app

    def new_room(self) -> None:
        """Pick a scenario, then create a room from it."""
        directories = [BUILTIN_SCENARIOS, *self.app.options.scenario_dirs]
        entries = load_catalog(directories)

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.create_room(path)

        self.app.push_screen(ScenarioPicker(entries, directories), chosen)

    def redispatch(self) -> None:
        """Dispatch the agents again into the observed room."""
        room = self.app.state.room
        if not room:
            self.app.notify("No room observed: select or create one first", severity="warning")
            return
        self.app.run_worker(
            self._redispatch(room), group="control", exit_on_error=False, name="re-dispatch"
        )

    def delete_room(self) -> None:
        """Delete the observed room once the user confirms."""
        room = self.app.state.room
        if not room:
            self.app.notify("No room observed: nothing to delete", severity="warning")
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.app.run_worker(
                    self._delete_room(room),
                    group="control",
                    exit_on_error=False,
                    name="delete room",
                )

        self.app.push_screen(
            ConfirmScreen(f"Delete room {room}? Its agents will be disconnected."), confirmed
        )

    def create_room(self, scenario_path: Path) -> None:
        """Create a room from ``scenario_path`` and observe it."""
        self.app.run_worker(
            self._create_room(scenario_path),
            group="control",
            exit_on_error=False,
            name="create room",
        )

    async def _create_room(self, scenario_path: Path) -> None:
        app = self.app
        app.notify(f"Creating a room from {scenario_path.name}…", timeout=3)
        created = await app.backend.create_room(scenario_path)
        app.notify(f"Room {created.name} created; agents dispatched", timeout=4)
        app.switch_room(created.name)
        app.action_refresh_rooms()

    async def _redispatch(self, room: str) -> None:
        dispatch_id = await self.app.backend.redispatch(room)
        self.app.notify(f"Agents re-dispatched into {room} ({dispatch_id})", timeout=4)

    async def _delete_room(self, room: str) -> None:
        app = self.app
        await app.backend.delete_room(room)
        app.latency.forget_room(room)
        if app.state.room == room:
            app.state.reset("", now=time.monotonic())
            app.renderer.show_room_title()
        app.notify(f"Room {room} deleted", timeout=4)
        app.action_refresh_rooms()
