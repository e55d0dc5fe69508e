"""Pilot test of the agent pane grid: the real dashboard, its own local livekit-server, the
in-process worker with the offline voice, a room of the bundled three-agent scenario."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_app import pane, pick_scenario, running_app, wait_until

from agents.scenario import load_scenario
from tui.core.scenario_catalog import BUILTIN_SCENARIOS
from tui.ui.pane_grid import PaneGrid

pytestmark = pytest.mark.e2e
PEOPLE = {"dispatcher": "Tim", "driver": "Chris", "receiver": "Rosa"}


async def test_three_agents_get_three_titled_panes(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        grid = app.query_one(PaneGrid)
        assert grid.roles == ("dispatcher", "driver")  # the pair until a room says otherwise
        await pick_scenario(pilot, "KDC-3107")
        await wait_until(pilot, lambda: app.state.room.startswith("conv_KDC-3107_"), "the room")

        heard_on_pane: set[str] = set()

        def all_talking() -> bool:
            for role in grid.roles:
                if "● SPEAKING" in pane(app, role).info_text:
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
            shown = pane(app, role)
            assert shown.display and str(shown.border_title) == f"{role.title()} ({name})"
            info = shown.info_text
            assert f"identity {role}-{name.lower()}" in info and f"name {name}" in info
            assert "published · subscribed · unmuted" in info
            first = next(line.text for line in script if line.speaker == role)
            assert first in shown.transcript_plain, (role, shown.transcript_plain)
        assert app.query_one("#unmatched-panes").display is False
        assert app.state.unmatched() == []
        checks = {check.id: check for check in app.diagnostics.evaluate(time.monotonic())}
        assert checks["room.unmatched"].status == "ok"
        assert checks["room.receiver"].status == "ok"
        assert checks["room.receiver"].title == "Rosa in the room"
        assert checks["session.receiver"].status == "ok"
        assert {"audio.dispatcher", "audio.driver", "audio.receiver"} <= checks.keys()
