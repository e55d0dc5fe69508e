"""Checks of what is heard: each agent's audio track and level, and both agents speaking
(one at a time is :mod:`.turn_taking`'s, from the same audio)."""

from __future__ import annotations

from tui.core.agent_view import AgentRole, AgentView
from tui.core.diagnostics.check import Check, one_line
from tui.core.diagnostics.facts import Facts, Heard


def audio(facts: Facts, role: AgentRole) -> Check:
    label = facts.state.rules.label(role)
    check_id, title = f"audio.{role}", f"{label}'s audio"
    view = facts.state.for_role(role)
    if view is None or not view.connected or not facts.observing():
        return Check(check_id, title, "pending", f"{label} not in the room")
    track = view.audio
    here = facts.now - view.joined_at
    if track is None:
        if here > facts.t.track_grace_s:
            return Check(
                check_id,
                title,
                "fail",
                f"{view.identity} has published no audio track for {here:.0f} s",
                "check that both AgentSession.start() calls completed",
            )
        return Check(check_id, title, "pending", "waiting for an audio track")
    if track.subscription_error:
        return Check(
            check_id,
            title,
            "fail",
            f"could not subscribe to {track.sid}: {one_line(track.subscription_error)}",
            "check the server's rtc ports and the observer's network",
        )
    if track.muted:
        return Check(
            check_id,
            title,
            "fail",
            f"audio track {track.sid} is muted",
            "unmute the agent's track (a muted publication sends nothing)",
        )
    if not track.subscribed:
        # No rtc event says why: a publisher that denies subscriptions
        # (set_track_subscription_permissions) leaves the track published, never subscribed.
        waited = facts.now - track.updated_at
        if waited > facts.t.track_grace_s:
            return Check(
                check_id,
                title,
                "fail",
                f"could not subscribe to {track.sid}: published {waited:.0f} s ago, "
                "still not subscribed",
                "let every participant subscribe (track subscription permissions); "
                "check the server's rtc ports",
            )
        return Check(check_id, title, "pending", f"track {track.sid} not subscribed yet")
    return _loudness(facts, view, check_id, title)


def _loudness(facts: Facts, view: AgentView, check_id: str, title: str) -> Check:
    heard = facts.heard.get(view.identity, Heard())
    claim = heard.claims_speaking_since
    last_sound = view.last_sound_at
    if (
        claim is not None
        and (last_sound is None or last_sound < claim)
        and facts.now - claim > facts.t.silent_speaking_s
    ):
        return Check(
            check_id,
            title,
            "fail",
            f"track {_sid(view)} is published but silent while {view.identity} is speaking "
            f"({facts.now - claim:.1f} s, level {_level(view)})",
            "the agent's TTS/realtime audio produces silence: check the voice back-end",
        )
    if heard.first_level_at is None:
        return Check(check_id, title, "pending", "waiting for the first level")
    if last_sound is None and facts.now - heard.first_level_at > facts.t.silent_track_s:
        return Check(
            check_id,
            title,
            "warn",
            f"track {_sid(view)} has been silent for {facts.now - heard.first_level_at:.0f} s",
            "check that the agent speaks (session, relay and worker log)",
        )
    return Check(check_id, title, "ok", f"track {_sid(view)} subscribed, level {_level(view)}")


def _spoke_at(facts: Facts, view: AgentView) -> float | None:
    heard = facts.heard.get(view.identity, Heard())
    times = [
        t
        for t in (
            heard.first_sound_at,
            view.speaking_intervals[0][0] if view.speaking_intervals else None,
            view.speaking_since,
        )
        if t is not None
    ]
    return min(times) if times else None


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def one_sided(facts: Facts) -> Check:
    """Every expected agent is heard; fails while some speak and another stays silent."""
    check_id = "speaking.one_sided"
    roles = facts.state.expected_roles()
    title = "Both agents speak" if len(roles) == 2 else "Every agent speaks"
    views = [facts.state.for_role(role) for role in roles]
    present = [view for view in views if view is not None and view.connected]
    if len(present) < len(roles):
        which = "both agents" if len(roles) == 2 else f"all {len(roles)} agents"
        return Check(check_id, title, "pending", f"needs {which} in the room")
    label = facts.state.rules.label
    spoke = {role: _spoke_at(facts, view) for role, view in zip(roles, present, strict=True)}
    if all(at is not None for at in spoke.values()):
        which = "both agents have" if len(roles) == 2 else "every agent has"
        return Check(check_id, title, "ok", f"{which} spoken")
    together_since = max(view.joined_at for view in present)
    if all(at is None for at in spoke.values()):
        waited = facts.now - together_since
        if waited > facts.t.one_sided_s:
            nobody = "neither agent has" if len(roles) == 2 else "no agent has"
            return Check(
                check_id,
                title,
                "warn",
                f"{nobody} spoken in {waited:.0f} s",
                "check the sessions, the relay and the worker log",
            )
        return Check(check_id, title, "pending", "nobody has spoken yet")
    speakers = [label(role) for role, at in spoke.items() if at is not None]
    silent = [label(role) for role, at in spoke.items() if at is None]
    first = max(min(at for at in spoke.values() if at is not None), together_since)
    waited = facts.now - first
    if waited > facts.t.one_sided_s:
        verb = "is" if len(speakers) == 1 else "are"
        return Check(
            check_id,
            title,
            "fail",
            f"only {_names(speakers)} {verb} speaking: {_names(silent)} "
            f"{'has' if len(silent) == 1 else 'have'} said nothing for {waited:.0f} s",
            f"check {_names(silent)}'s session start, audio track and the worker log",
        )
    return Check(
        check_id, title, "pending", f"waiting for {_names(silent)} to answer ({waited:.0f} s)"
    )


def _sid(view: AgentView) -> str:
    track = view.audio
    return track.sid if track is not None else "?"


def _level(view: AgentView) -> str:
    return "unknown" if view.level_dbfs is None else f"{view.level_dbfs:.0f} dBFS"
