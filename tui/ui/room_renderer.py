"""The room column's render loop: title, jobs and turn-taking lines, agent panes (speaking as
heard in the audio) and unmatched panes.

Renders are throttled here, with version counters on :class:`~tui.core.state.RoomState`,
because each render repaints: what a person waits to see (speaking, joins, tracks) is drawn
within ``render_check_s``, streaming levels and transcript words at most every
``stream_render_s`` (measured: this keeps the dashboard under 10 % of a core during a call).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.widgets import Static

from tui.core.agent_view import AgentRole
from tui.core.diagnostics import summary, worst
from tui.ui.pane_grid import PaneGrid, PaneSpec
from tui.ui.widgets.agent_pane import AgentPane
from tui.ui.widgets.jobs_line import JobsLine
from tui.ui.widgets.status_bar import StatusBar
from tui.ui.widgets.turns_line import TurnsLine

if TYPE_CHECKING:
    from tui.ui.app import DispatchApp

CHECK_HEALTH: Final = {"ok": "ok", "warn": "pending", "pending": "pending", "fail": "bad"}


def _home_relative(path: str) -> str:
    """``~/...`` for paths under the home folder: the title line is short."""
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + "/") else path


class RoomRenderer:
    """Draws the observed room from the app's state, diagnostics and latency book."""

    def __init__(self, app: DispatchApp, stream_render_s: float) -> None:
        self.app = app
        self._stream_render_s = stream_render_s
        self._rendered_version = -1
        self._rendered_prompt_version = -1
        self._rendered_at = 0.0
        self._title = ""

    def invalidate(self) -> None:
        """Render on the next tick whatever the versions say (a new room, a new turn)."""
        self._rendered_prompt_version = -1

    def show_room_title(self) -> None:
        """The observed room's name, load and participant count (repainted only on change:
        the render loop calls this on every render)."""
        text = self._room_title()
        if text != self._title:
            self._title = text
            self.app.query_one("#room-title", Static).update(text)

    def _room_title(self) -> str:
        state = self.app.state
        if not state.room:
            return "no room observed: press n to create one"
        listed = next((room for room in self.app.rooms if room.name == state.room), None)
        load = f"  load {listed.load_id}" if listed and listed.load_id else ""
        if state.observer_state in ("connected", "reconnected"):
            # what the observer sees now, not the server's room record (stored on a 5 s tick)
            count = sum(1 for view in state.participants() if view.connected)
            people = f"  {count} participant{'s' if count != 1 else ''} seen"
        else:
            people = f"  {listed.num_participants} participants" if listed else ""
        run_dir = self.app.model.recording.get(state.room)
        record = f"  rec {_home_relative(run_dir)}" if run_dir else ""
        return f"room {state.room}{load}{people}{record}"

    def _missing_reason(self, role: AgentRole) -> str:
        state = self.app.state
        if not state.room:
            return "No room observed. Press n to create a room from a scenario."
        if state.observer_state not in ("connected", "reconnected"):
            return f"The observer is not in the room ({state.observer_state or 'joining'})."
        if self.app.worker_status.state == "failed":
            return f"The agent worker failed: {self.app.worker_status.detail}"
        if not self.app.options.no_worker and self.app.worker_status.state != "registered":
            return "The agent worker is not registered yet, so no job can be dispatched."
        unmatched = ", ".join(view.identity for view in state.unmatched())
        hint = f" Agents matching no role: {unmatched}." if unmatched else ""
        return f"No participant with {state.rules.rule_text(role)}.{hint}"

    def render(self) -> None:
        """Redraw what changed, if it is due (called every ``render_check_s``)."""
        if self.app.closing:
            return  # widgets may already be gone
        now = time.monotonic()
        state = self.app.state
        since = now - self._rendered_at
        # At once for what a person waits to see (speaking, joins, tracks); levels and
        # transcript words at most every stream_render_s (each render repaints); once a
        # second anyway for the "for 12 s" clocks.
        due = (
            state.prompt_version != self._rendered_prompt_version
            or (state.version != self._rendered_version and since >= self._stream_render_s)
            or since >= 1.0
        )
        if not due:
            return
        self._rendered_version, self._rendered_prompt_version = state.version, state.prompt_version
        self._rendered_at = now
        try:
            self._render(now)
        except NoMatches:
            # The screen is being torn down (the app exits): seen with a widget's children
            # already gone while the app was not yet marked closing.
            return

    def _render(self, now: float) -> None:
        model = self.app.model
        checks = self.app.current_checks(now)
        self.app.backend.note_checks(checks)
        model.note_checks(checks, now)
        status_bar = self.app.query_one(StatusBar)
        status_bar.set_checks(summary(checks), CHECK_HEALTH[worst(checks)])
        self.app.query_one(JobsLine).show_jobs(self.app.state)
        self.app.query_one(TurnsLine).show_turns(model.turns, now)
        self.show_room_title()
        self._render_panes(now)
        self._render_unmatched(now)

    def _render_panes(self, now: float) -> None:
        state, model = self.app.state, self.app.model
        grid = self.app.query_one(PaneGrid)
        roles = state.pane_roles()
        grid.show([PaneSpec(role, state.rules.label(role)) for role in roles])
        for role in roles:
            pane = grid.pane(role)
            if not pane.ready:
                continue  # mounted just now: shown on the next tick
            view = state.for_role(role)
            if view is None:
                pane.show_missing(self._missing_reason(role), self.app.state.missing_for(role, now))
            else:
                latency = self.app.latency.summary(self.app.state.room, role)
                pane.show_agent(view, now, latency, model.turns.audible(view.identity))

    def _render_unmatched(self, now: float) -> None:
        container = self.app.query_one("#unmatched-panes", Horizontal)
        views = self.app.state.unmatched()
        wanted = {f"pane-unmatched-{index}": view for index, view in enumerate(views[:3])}
        for pane in list(container.query(AgentPane)):
            if pane.id not in wanted:
                pane.remove()
        for pane_id, view in wanted.items():
            existing = container.query(f"#{pane_id}")
            if existing:
                pane = existing.first(AgentPane)
            else:
                pane = AgentPane("Unmatched agent", "unmatched", id=pane_id)
                pane.add_class("-unmatched")
                container.mount(pane)
                continue  # rendered on the next tick, once mounted
            pane.show_agent(view, now, speaking=self.app.model.turns.audible(view.identity))
        container.display = bool(views)
