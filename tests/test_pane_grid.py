"""The agent pane grid: in the real dashboard (its own local livekit-server, the in-process
worker with the offline voice, a room of the bundled three-agent scenario) and on its own."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_app import pick_scenario, running_app, wait_until
from textual.app import App, ComposeResult

from agents.scenario import load_scenario
from tui.core.events import ParticipantJoined
from tui.core.scenario_catalog import BUILTIN_SCENARIOS
from tui.core.state import RoomState
from tui.ui.pane_grid import PaneGrid, PaneSpec

PEOPLE = {"dispatcher": "Tim", "driver": "Chris", "receiver": "Rosa"}


@pytest.mark.e2e
async def test_three_agents_get_three_titled_panes(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        grid = app.query_one(PaneGrid)
        assert grid.roles == ("dispatcher", "driver")  # the pair until a room says otherwise
        await pick_scenario(pilot, "KDC-3107")
        await wait_until(pilot, lambda: app.state.room.startswith("conv_KDC-3107_"), "the room")

        heard_on_pane: set[str] = set()

        def all_talking() -> bool:
            for role in grid.roles:  # a pane mounted this tick is not ready to be read
                if grid.pane(role).ready and "● SPEAKING" in grid.pane(role).info_text:
                    heard_on_pane.add(role)
            views = [app.state.for_role(role) for role in PEOPLE]
            return all(
                view is not None
                and view.counters.speaking_turns
                and any(line.final for line in view.transcript)
                for view in views
            ) and heard_on_pane >= set(PEOPLE)

        await wait_until(
            pilot, all_talking, "all three agents speaking on their panes and transcribed", 60
        )
        await pilot.pause(0.3)  # one render tick
        assert grid.roles == ("dispatcher", "driver", "receiver")
        assert (grid.styles.grid_size_columns, grid.styles.grid_size_rows) == (2, 2)
        script = load_scenario(BUILTIN_SCENARIOS / "kdc-3107.json").script
        for role, name in PEOPLE.items():
            shown = grid.pane(role)
            assert shown.display and str(shown.border_title) == f"{role.title()} ({name})"
            info = shown.info_text
            assert f"identity {role}-{name.lower()}" in info and f"name {name}" in info
            assert "published · subscribed · unmuted" in info
            first = next(line.text for line in script if line.speaker == role)
            assert first in shown.transcript_plain, (role, shown.transcript_plain)
        await wait_until(
            pilot,
            lambda: all("latency" in grid.pane(role).info_text for role in PEOPLE),
            "per-turn latency in all three panes",
        )
        assert app.query_one("#unmatched-panes").display is False
        assert app.state.unmatched() == []
        checks = {check.id: check for check in app.diagnostics.evaluate(time.monotonic())}
        assert checks["room.unmatched"].status == "ok"
        assert checks["room.receiver"].status == "ok"
        assert checks["room.receiver"].title == "Rosa in the room"
        assert checks["session.receiver"].status == "ok"
        assert {"audio.dispatcher", "audio.driver", "audio.receiver"} <= checks.keys()
        app.save_screenshot(
            filename="pilot-three-agents.svg",
            path=str(Path(os.environ.get("DISPATCH_TUI_SCREENSHOTS", "/tmp"))),
        )


class GridApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PaneGrid(id="agent-panes")


SIX = [
    PaneSpec(role, name)
    for role, name in (
        ("dispatcher", "Tim"),
        ("driver", "Chris"),
        ("receiver", "Rosa"),
        ("broker", "Bea"),
        ("shipper", "Sam"),
        ("supervisor", "Sue"),
    )
]


async def test_six_panes_in_three_columns_then_the_pair_again() -> None:
    app = GridApp()
    async with app.run_test(size=(180, 50)) as pilot:
        grid = app.query_one(PaneGrid)
        await pilot.pause()
        assert [str(grid.pane(r).border_title) for r in grid.roles] == [
            "Dispatcher (Tim)",
            "Driver (Chris)",
        ]
        grid.show(SIX)
        await pilot.pause()
        await pilot.pause()
        assert (grid.styles.grid_size_columns, grid.styles.grid_size_rows) == (3, 2)
        titles = [str(grid.pane(spec.role).border_title) for spec in SIX]
        assert titles[2:] == [
            "Receiver (Rosa)",
            "Broker (Bea)",
            "Shipper (Sam)",
            "Supervisor (Sue)",
        ]
        regions = [grid.pane(spec.role).region for spec in SIX]
        # three to a row, in the scenario's order, each with room for its status and transcript
        assert [r.y for r in regions[:3]] == [regions[0].y] * 3
        assert [r.y for r in regions[3:]] == [regions[3].y] * 3 and regions[3].y > regions[0].y
        assert [r.x for r in regions[:3]] == sorted(r.x for r in regions[:3])
        assert all(r.width >= 40 and r.height >= 8 for r in regions)
        grid.show(SIX[:2])
        await pilot.pause()
        assert grid.roles == ("dispatcher", "driver")
        assert [grid.pane(s.role).display for s in SIX] == [True, True, False, False, False, False]
        assert (grid.styles.grid_size_columns, grid.styles.grid_size_rows) == (2, 1)
        grid.show([SIX[2], SIX[0], SIX[1]])  # another room, another order: same panes reused
        await pilot.pause()
        shown = [child for child in grid.children if child.display]
        assert [child.id for child in shown] == ["pane-receiver", "pane-dispatcher", "pane-driver"]


async def test_a_pane_is_titled_with_the_name_it_sees() -> None:
    """A scenario's driver called Dwayne reads "Driver (Dwayne)", never "Driver (Chris): …"."""
    app = GridApp()
    async with app.run_test(size=(160, 40)) as pilot:
        grid = app.query_one(PaneGrid)
        grid.show([PaneSpec("dispatcher", "Tim"), PaneSpec("driver", "Dwayne")])
        await pilot.pause()
        driver = grid.pane("driver")
        driver.show_missing("waiting", 1.0)
        assert str(driver.border_title) == "Driver (Dwayne)"
        state = RoomState("r")
        state.apply(
            ParticipantJoined("r", "hauler-dw", "Dwayne", "agent", (("dispatch.role", "driver"),))
        )
        view = state.driver()
        assert view is not None
        driver.show_agent(view, time.monotonic())
        assert str(driver.border_title) == "Driver (Dwayne)"
