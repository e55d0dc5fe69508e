"""Checks of the room as the observer sees it: the observer, each agent's presence, and
agents matching no role."""

from __future__ import annotations

from tui.core.agent_view import AgentRole
from tui.core.diagnostics.check import Check, one_line
from tui.core.diagnostics.facts import Facts


def observer(facts: Facts) -> Check:
    title = "Observer in the room"
    if not facts.room:
        return Check("observer", title, "pending", "no room observed")
    state = facts.state.observer_state
    detail = one_line(facts.state.observer_detail)
    if state in ("connected", "reconnected"):
        return Check("observer", title, "ok", f"observing {facts.room}")
    if state == "reconnecting":
        return Check("observer", title, "warn", "reconnecting to the server")
    if state in ("failed", "disconnected"):
        return Check(
            "observer",
            title,
            "fail",
            detail or f"observer {state}",
            "check the server; select the room again",
        )
    return Check("observer", title, "pending", "joining")


def presence(facts: Facts, role: AgentRole) -> Check:
    label = facts.state.rules.label(role)
    check_id, title = f"room.{role}", f"{label} in the room"
    if not facts.room or not facts.observing():
        return Check(check_id, title, "pending", "observer not in a room")
    view = facts.state.for_role(role)
    if view is not None and view.connected:
        return Check(check_id, title, "ok", f"{view.identity} ({view.match_reason})")
    unmatched = [v.identity for v in facts.state.unmatched() if v.connected]
    hint = f"; agents matching no role: {', '.join(unmatched)}" if unmatched else ""
    if view is not None:
        return Check(
            check_id,
            title,
            "fail",
            f"{view.identity} {view.presence(facts.now)}"
            + (f" ({view.leave_reason})" if view.leave_reason else "")
            + hint,
            "see the worker log; press d to dispatch again",
        )
    missing = facts.state.missing_for(role, facts.now) or 0.0
    # an unanswered dispatch explains the absence early, once it counts as not accepted
    unanswered = facts.job_unanswered_for()
    if missing <= facts.t.agent_join_s and (
        unanswered is None or unanswered <= facts.t.dispatch_job_s
    ):
        return Check(check_id, title, "pending", f"waiting for {label} ({missing:.0f} s)")
    return Check(
        check_id,
        title,
        "fail",
        f"no {role} agent in the room for {missing:.0f} s" + hint,
        "check the dispatch and the worker (see the checks above)",
    )


def unmatched(facts: Facts) -> Check:
    title = "Agents match a role"
    views = [view for view in facts.state.unmatched() if view.connected]
    if not views:
        return Check("room.unmatched", title, "ok", "every agent matches a role filter")
    first = views[0]
    more = f" (+{len(views) - 1} more)" if len(views) > 1 else ""
    return Check(
        "room.unmatched",
        title,
        "fail",
        f"{first.identity}: {first.match_reason}{more}",
        "give the agent its scenario identity, set dispatch.role, or pass --match ROLE=REGEX",
    )
