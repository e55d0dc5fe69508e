"""Session events of one call: what each agent session reports, routed to its own participant.

Each agent publishes its events on its own participant (:mod:`agents.session_publisher`,
:mod:`agents.session_wire`); ``JobEvents`` picks the publisher and ``attach_session_events``
forwards one session's state, metrics, errors and close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from livekit.agents import AgentSession, llm, tts

from agents.scenario import Role
from agents.session_publisher import SessionEventPublisher
from agents.turn_relay import Turn

logger = logging.getLogger("multi_agent_worker")


def role_label(role: Role) -> str:
    """How the log names an agent: ``Dispatcher``, ``Driver``, ``Receiver``."""
    return role.capitalize()


class JobEvents:
    """Routes each session event to the publisher of its own agent's participant.

    ``publishers`` are in the scenario's order: job-wide events (role ``""``) go out as the first
    agent, the job participant. An agent whose room is not connected (it failed to join) has its
    events published by another agent instead, so the observer still learns why. Never lets a
    publishing failure reach a session.
    """

    def __init__(self, publishers: Mapping[Role, SessionEventPublisher]) -> None:
        self._publishers = publishers
        self._primary = next(iter(publishers.values()))

    def __call__(self, role: str, kind: str, payload: dict[str, Any]) -> None:
        own = self._publishers.get(role, self._primary)
        publisher = own
        if not own.room.isconnected():
            connected = [p for p in self._publishers.values() if p.room.isconnected()]
            publisher = connected[0] if connected else own
        try:
            publisher.publish(role, kind, payload)
        except Exception:
            logger.exception("session event %s/%s not published", role, kind)


def one_line(error: object) -> str:
    """An error's text on one line (its type's name if it has none)."""
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def error_text(error: object) -> str:
    """An error's text on one line, with what the provider said when the text alone does not.

    livekit-plugins-openai raises ``APIError("OpenAI Realtime API returned an error")`` and
    keeps OpenAI's own code and message in ``body``: without them a rejected key, a rate limit
    and a server error all read the same.
    """
    text = one_line(error)
    body = getattr(error, "body", None)
    fields = body if isinstance(body, dict) else vars(body) if hasattr(body, "__dict__") else {}
    said = [str(fields[key]) for key in ("code", "message") if fields.get(key)]
    detail = one_line(": ".join(said)) if said else ""
    return f"{text}: {detail}" if detail and detail not in text else text


def attach_session_events(
    session: AgentSession[None], role: Role, events: Callable[[str, str, dict[str, Any]], None]
) -> None:
    """Forward state, metrics, errors and close of one session; log the first error clearly."""
    label = role_label(role)
    logged_errors: set[str] = set()

    def on_state(ev: Any) -> None:
        events(role, "agent_state", {"old_state": ev.old_state, "new_state": ev.new_state})

    def on_metrics(metrics: Any) -> None:
        kind = getattr(metrics, "type", "")
        payload: dict[str, Any] = {"duration": getattr(metrics, "duration", None)}
        if kind == "llm_metrics":
            payload.update(type="llm", ttft=metrics.ttft)
        elif kind == "tts_metrics":
            payload.update(type="tts", ttfb=metrics.ttfb)
        elif kind == "realtime_model_metrics":
            payload.update(type="realtime", ttft=metrics.ttft)
        else:
            return
        events(role, "metrics", payload)

    def on_error(ev: Any) -> None:
        error = getattr(ev, "error", ev)
        inner = getattr(error, "error", error)
        recoverable = bool(getattr(error, "recoverable", False))
        message = error_text(inner)
        if "401" in message or "invalid_api_key" in message:
            message += " (the OpenAI API key was rejected: check OPENAI_API_KEY)"
        source = type(getattr(ev, "source", None)).__name__
        events(role, "error", {"error": message, "source": source, "recoverable": recoverable})
        if recoverable:
            # the framework already warns about each retry; the failure is the last error
            logger.debug("%s session error from %s (retrying): %s", label, source, message)
            return
        # a rejected key can repeat the same failure: one clear line is enough
        key = f"{source}:{message}"
        if key not in logged_errors:
            logged_errors.add(key)
            logger.error("%s session error from %s: %s", label, source, message)

    def on_close(ev: Any) -> None:
        error = getattr(ev, "error", None)
        reason = getattr(getattr(ev, "reason", None), "value", str(getattr(ev, "reason", "")))
        events(
            role,
            "session_closed",
            {"reason": reason, "error": error_text(error.error) if error is not None else None},
        )

    session.on("agent_state_changed", on_state)
    # AgentSession's own metrics_collected is deprecated in 1.8.9 (it warns); the models still
    # emit theirs. A realtime model's per-turn timings arrive with each "turn" event instead.
    for model in (session.llm, session.tts):
        if isinstance(model, llm.LLM | tts.TTS):
            model.on("metrics_collected", on_metrics)
    session.on("error", on_error)
    session.on("close", on_close)


def turn_payload(turn: Turn) -> dict[str, Any]:
    metrics = turn.metrics
    return {
        "index": turn.index,
        "text": turn.text,
        "started_speaking_at": turn.started_speaking_at,
        "stopped_speaking_at": turn.stopped_speaking_at,
        "llm_node_ttft": metrics.get("llm_node_ttft"),
        "tts_node_ttfb": metrics.get("tts_node_ttfb"),
        "e2e_latency": metrics.get("e2e_latency"),
    }
