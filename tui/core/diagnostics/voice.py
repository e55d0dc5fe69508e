"""Checks of the voice: the OpenAI key and realtime connection, and each session's start."""

from __future__ import annotations

from tui.core.agent_view import AgentRole
from tui.core.diagnostics.check import Check
from tui.core.diagnostics.facts import Facts, RoomSessions


def openai(facts: Facts) -> list[Check]:
    mode = facts.voice_mode
    key_title, rt_title = "OpenAI API key", "Realtime connection"
    if mode is None:
        return [
            Check("openai.key", key_title, "pending", "voice not known yet"),
            Check("openai.realtime", rt_title, "pending", "voice not known yet"),
        ]
    if mode != "realtime":
        return [
            Check("openai.key", key_title, "ok", f"{mode} voice: no OpenAI key needed"),
            Check("openai.realtime", rt_title, "ok", f"{mode} voice: not used"),
        ]
    rejected = facts.key_rejected
    worked = facts.realtime_worked_at
    if facts.key_present is False:
        key = Check(
            "openai.key",
            key_title,
            "fail",
            "OPENAI_API_KEY is not set",
            "export OPENAI_API_KEY, or use --voice offline",
        )
    elif rejected and (worked is None or worked < (facts.key_rejected_at or 0.0)):
        key = Check(
            "openai.key",
            key_title,
            "fail",
            f"OpenAI rejected the key: {rejected}",
            "set a valid OPENAI_API_KEY and restart the worker",
        )
    else:
        how = "used by a realtime session" if worked is not None else "set"
        key = Check("openai.key", key_title, "ok", how)
    sessions = facts.sessions
    if sessions is None or not sessions.realtime_error:
        realtime = Check(
            "openai.realtime",
            rt_title,
            "ok",
            "no realtime errors" if sessions else "no session in this room yet",
        )
    elif not sessions.realtime_recoverable:
        realtime = Check(
            "openai.realtime",
            rt_title,
            "fail",
            f"realtime connection failed: {sessions.realtime_error}",
            "check the key, OPENAI_BASE_URL and network access to OpenAI",
        )
    else:
        realtime = _recoverable(sessions)
    return [key, realtime]


def _recoverable(sessions: RoomSessions) -> Check:
    """A realtime error the session survived: a rate limit, a dropped connection, a failed
    response."""
    check_id, title = "openai.realtime", "Realtime connection"
    error = sessions.realtime_error
    erring = sessions.roles.get(sessions.realtime_error_role)
    turns_since = (erring.turns if erring else 0) - sessions.realtime_error_turns
    if "rate_limit" in error.lower() or "rate limit" in error.lower():
        return Check(
            check_id,
            title,
            "warn",
            f"OpenAI rate-limited a response: {error}",
            "wait a minute and press d; if it repeats, raise the OpenAI account's rate limits",
        )
    if turns_since > 0:
        return Check(
            check_id,
            title,
            "warn",
            f"recovered from: {error}",
            "nothing to do if it is rare; if it repeats, check the network path to OpenAI "
            "(OPENAI_BASE_URL)",
        )
    return Check(
        check_id,
        title,
        "warn",
        f"OpenAI error: {error}",
        "press d to call again; if it repeats, check status.openai.com and the worker log",
    )


def reply(facts: Facts) -> Check:
    """How soon each agent starts speaking once asked (the turns' ``e2e_latency``)."""
    check_id, title = "voice.reply", "Replies start promptly"
    roles = facts.sessions.roles if facts.sessions is not None else {}
    timed = {role: info for role, info in roles.items() if info.turns}
    limit = facts.t.slow_reply_s
    for role in facts.state.expected_roles():
        info = timed.get(role)
        if info is not None and info.reply_s is not None and info.reply_s > limit:
            cause = (
                "the voice model answers slowly: check status.openai.com and the network path "
                "to OpenAI (OPENAI_BASE_URL)"
                if facts.voice_mode == "realtime"
                else "the worker is short of CPU: run fewer calls per worker"
            )
            return Check(
                check_id,
                title,
                "warn",
                f"{facts.state.rules.label(role)}'s last reply began {info.reply_s:.1f} s "
                f"after being asked (over {limit:.0f} s)",
                cause,
            )
    if not all(role in timed for role in facts.state.expected_roles()):
        return Check(check_id, title, "pending", "waiting for each agent's first reply")
    parts = [
        f"{facts.state.rules.label(role)} {timed[role].reply_s:.1f} s"
        for role in facts.state.expected_roles()
        if timed[role].reply_s is not None
    ]
    return Check(check_id, title, "ok", ", ".join(parts) or "replies not timed by this worker")


def session(facts: Facts, role: AgentRole) -> Check:
    label = facts.state.rules.label(role)
    check_id, title = f"session.{role}", f"{label}'s session started"
    info = facts.sessions.roles.get(role) if facts.sessions is not None else None
    if info is not None:
        if info.failed:
            return Check(
                check_id,
                title,
                "fail",
                f"did not start: {info.failed}",
                "fix the error above (worker log has details), then press d",
            )
        if info.closed:
            return Check(
                check_id,
                title,
                "fail",
                f"closed with an error: {info.closed}",
                "see the worker log; press d to dispatch again",
            )
        if info.error and not info.error_recoverable:
            return Check(
                check_id, title, "fail", f"session error: {info.error}", "see the worker log"
            )
        if info.started_at is not None:
            return Check(check_id, title, "ok", f"started as {info.identity!r}")
    view = facts.state.for_role(role)
    if view is not None and view.connected:
        state = view.agent_state
        if state in ("listening", "thinking", "speaking"):
            return Check(check_id, title, "ok", f"running (agent state {state})")
        waited = facts.now - view.joined_at
        if waited > facts.t.agent_join_s:
            return Check(
                check_id,
                title,
                "warn",
                f"{view.identity} joined {waited:.0f} s ago but its agent state is "
                f"{state or 'not set'}",
                "check that AgentSession.start() completed",
            )
    return Check(check_id, title, "pending", "no session reported yet")
