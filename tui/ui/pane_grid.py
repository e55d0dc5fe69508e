"""The agent panes: one per expected agent, in a grid shaped for their number (2 to 6)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

from textual.app import ComposeResult
from textual.containers import Container

from tui.core.pane_layout import grid_shape
from tui.core.roles import DEFAULT_AGENTS, role_title
from tui.ui.widgets.agent_pane import AgentPane


class PaneSpec(NamedTuple):
    """One pane to show: the role it is for and the name the scenario gives its agent."""

    role: str
    name: str


class PaneGrid(Container):
    """Holds an :class:`AgentPane` per role (id ``pane-<role>``), shown in the given order.

    Panes of roles the observed room does not expect are hidden rather than removed: a pane
    mounted again under the same id while the old one is still being removed would clash.
    """

    DEFAULT_CSS = """
    PaneGrid { layout: grid; grid-size: 2 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._panes: dict[str, AgentPane] = {}
        self._shown: tuple[PaneSpec, ...] = ()

    def compose(self) -> ComposeResult:
        # The guide's pair until the observed room says otherwise: the dashboard opens as always.
        for agent in DEFAULT_AGENTS:
            yield self._new_pane(PaneSpec(agent.role, agent.name))
        self._shown = tuple(PaneSpec(agent.role, agent.name) for agent in DEFAULT_AGENTS)

    def on_mount(self) -> None:
        self._shape(len(self._shown))

    def _new_pane(self, spec: PaneSpec) -> AgentPane:
        pane = AgentPane(role_title(spec.role), spec.role, name=spec.name, id=f"pane-{spec.role}")
        self._panes[spec.role] = pane
        return pane

    def _shape(self, count: int) -> None:
        shape = grid_shape(count)
        self.styles.grid_size_columns = shape.columns
        self.styles.grid_size_rows = shape.rows

    def show(self, specs: Sequence[PaneSpec]) -> None:
        """Show a pane for each of ``specs``, in order, and hide the others."""
        wanted = tuple(specs)
        if wanted == self._shown:
            return
        roles = [spec.role for spec in wanted]
        for spec in wanted:
            pane = self._panes.get(spec.role)
            if pane is None:
                self.mount(self._new_pane(spec))
            else:
                pane.set_expected_name(spec.name)
                pane.display = True
        for role, pane in self._panes.items():
            if role not in roles:
                pane.display = False
        order = [self._panes[role] for role in roles]
        if [child for child in self.children if child in order] != order:
            for previous, pane in pairwise(order):
                self.move_child(pane, after=previous)
        self._shape(len(wanted))
        self._shown = wanted

    def pane(self, role: str) -> AgentPane:
        """The pane of ``role`` (one of the roles last shown)."""
        return self._panes[role]

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles shown, in order."""
        return tuple(spec.role for spec in self._shown)
