"""The observed room's agents by role: who fills each pane, who is missing, who matches none.

:class:`~tui.core.state.RoomState` inherits these queries; they only read its participants,
its role rules and when observing started.
"""

from __future__ import annotations

from tui.core.agent_view import AgentRole, AgentView, Role
from tui.core.roles import MAX_PANES, RoleRules


class RoleQueries:
    """Read-only role queries over ``_participants`` (set up by the room state)."""

    _participants: dict[str, AgentView]
    rules: RoleRules
    started_at: float

    def _pick(self, role: Role) -> AgentView | None:
        # Prefer a connected one (the latest to join); else the one that left last, so the
        # pane can say "left 5 s ago" instead of vanishing.
        best: AgentView | None = None
        for view in self._participants.values():
            if view.role != role:
                continue
            if best is None or _pick_key(view) >= _pick_key(best):
                best = view
        return best

    def dispatcher(self) -> AgentView | None:
        """The dispatcher to show: connected if any, else the last one that left, else None."""
        return self._pick("dispatcher")

    def driver(self) -> AgentView | None:
        """The driver to show: connected if any, else the last one that left, else None."""
        return self._pick("driver")

    def for_role(self, role: AgentRole) -> AgentView | None:
        return self._pick(role)

    def unmatched(self) -> list[AgentView]:
        """Agents that match no role (see their ``match_reason``), connected first."""
        views = [view for view in self._participants.values() if view.role == "unmatched"]
        return sorted(views, key=lambda view: not view.connected)

    def missing_since(self, role: AgentRole) -> float | None:
        """When the room last had a connected agent with ``role`` (or observing started).

        None while such an agent is connected.
        """
        view = self._pick(role)
        if view is not None and view.connected:
            return None
        if view is not None and view.left_at is not None:
            return view.left_at
        return self.started_at

    def missing_for(self, role: AgentRole, now: float) -> float | None:
        """Seconds the role has been missing ("missing for 12 s"), None while present."""
        since = self.missing_since(role)
        return None if since is None else max(0.0, now - since)

    def expected_roles(self) -> tuple[AgentRole, ...]:
        """The roles of the room's scenario in speaking order (the guide's pair without one)."""
        return self.rules.expected_roles

    def missing_roles(self) -> list[AgentRole]:
        return [role for role in self.expected_roles() if self.missing_since(role) is not None]

    def pane_roles(self) -> tuple[AgentRole, ...]:
        """The roles given a pane: the expected ones, then any other role an agent took
        (through ``--match``), at most :data:`~tui.core.roles.MAX_PANES`."""
        taken = [r for r in self.rules.roles[len(self.rules.agents) :] if self._pick(r)]
        return (*self.rules.expected_roles, *taken)[:MAX_PANES]


def _pick_key(view: AgentView) -> tuple[bool, float]:
    return (view.connected, view.joined_at if view.connected else (view.left_at or 0.0))
