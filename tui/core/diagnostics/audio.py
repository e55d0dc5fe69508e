"""Checks of what is heard: each agent's audio track and level, both agents speaking, and
never at once."""

from __future__ import annotations

from tui.core.agent_view import AgentRole, AgentView, overlap_seconds
from tui.core.diagnostics.check import ROLE_LABELS, Check, one_line
from tui.core.diagnostics.facts import Facts, Heard


def audio(facts: Facts, role: AgentRole) -> Check:
    label = ROLE_LABELS[role]
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


def one_sided(facts: Facts) -> Check:
    title = "Both agents speak"
    tim, chris = facts.state.dispatcher(), facts.state.driver()
    if tim is None or chris is None or not (tim.connected and chris.connected):
        return Check("speaking.one_sided", title, "pending", "needs both agents in the room")
    spoke = {
        role: _spoke_at(facts, view) for role, view in (("dispatcher", tim), ("driver", chris))
    }
    if all(at is not None for at in spoke.values()):
        return Check("speaking.one_sided", title, "ok", "both agents have spoken")
    together_since = max(tim.joined_at, chris.joined_at)
    if all(at is None for at in spoke.values()):
        waited = facts.now - together_since
        if waited > facts.t.one_sided_s:
            return Check(
                "speaking.one_sided",
                title,
                "warn",
                f"neither agent has spoken in {waited:.0f} s",
                "check the sessions, the relay and the worker log",
            )
        return Check("speaking.one_sided", title, "pending", "nobody has spoken yet")
    speaker: AgentRole = "dispatcher" if spoke["dispatcher"] is not None else "driver"
    silent: AgentRole = "driver" if speaker == "dispatcher" else "dispatcher"
    first = max(spoke[speaker] or 0.0, together_since)
    waited = facts.now - first
    if waited > facts.t.one_sided_s:
        return Check(
            "speaking.one_sided",
            title,
            "fail",
            f"only {ROLE_LABELS[speaker]} is speaking: {ROLE_LABELS[silent]} has said "
            f"nothing for {waited:.0f} s",
            f"check {ROLE_LABELS[silent]}'s session start, audio track and the worker log",
        )
    return Check(
        "speaking.one_sided",
        title,
        "pending",
        f"waiting for {ROLE_LABELS[silent]} to answer ({waited:.0f} s)",
    )


def overlap(facts: Facts) -> Check:
    title = "One speaker at a time"
    tim, chris = facts.state.dispatcher(), facts.state.driver()
    if tim is None or chris is None:
        return Check("speaking.overlap", title, "pending", "needs both agents")
    heard_tim = facts.heard.get(tim.identity, Heard())
    heard_chris = facts.heard.get(chris.identity, Heard())
    stretch = facts.t.overlap_stretch_s
    sound = overlap_seconds(heard_tim.intervals(), heard_chris.intervals(), at_least_s=stretch)
    now_both = 0.0
    if tim.speaking and chris.speaking and tim.speaking_since and chris.speaking_since:
        now_both = facts.now - max(tim.speaking_since, chris.speaking_since)
        now_both = now_both if now_both >= stretch else 0.0
    overlap = max(sound, facts.state.speaking_overlap_s(stretch) + now_both)
    if overlap >= facts.t.overlap_s:
        return Check(
            "speaking.overlap",
            title,
            "fail",
            f"Tim and Chris spoke at the same time for {overlap:.1f} s",
            "one session is not waiting for the other: check the turn relay",
        )
    return Check(
        "speaking.overlap",
        title,
        "ok",
        f"no overlap ({overlap:.1f} s)" if overlap else "no overlap",
    )


def _sid(view: AgentView) -> str:
    track = view.audio
    return track.sid if track is not None else "?"


def _level(view: AgentView) -> str:
    return "unknown" if view.level_dbfs is None else f"{view.level_dbfs:.0f} dBFS"
