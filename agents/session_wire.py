"""Session events on the room: the one wire format the worker writes and the observer reads.

Each agent participant publishes its own session's events as reliable data packets on topic
:data:`SESSION_TOPIC`, one small JSON object per packet::

    {"v": 1, "seq": 7, "role": "driver", "kind": "turn", "at": 1764590000.12, "payload": {...}}

``seq`` counts from 1 per publishing participant, so a receiver can tell that it has everything a
participant sent (the worker waits for that before its agents leave, see
:mod:`agents.room_receipts`). ``at`` is the sender's wall clock (epoch seconds). A reader skips
packets of another version or kind instead of failing: an older dashboard keeps working against
a newer worker.

Kinds and payload keys:

- ``session_started``: identity, name, voice (mode, model, voice, temperature,
  temperature_applied)
- ``session_failed``: error (one line)
- ``agent_state``: old_state, new_state
- ``metrics``: type (``llm``, ``tts`` or ``realtime``), ttft or ttfb (seconds), duration
- ``turn``: index, text, started_speaking_at, stopped_speaking_at, llm_node_ttft,
  tts_node_ttfb, e2e_latency (each timing may be None)
- ``error``: error (one line), source, recoverable
- ``session_closed``: reason, error (or None)
- ``conversation_ended`` (role ``""``): reason, turns, detail
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Final

SESSION_TOPIC: Final = "dispatch.session"
WIRE_VERSION: Final = 1
SESSION_EVENT_KINDS: Final = frozenset(
    {
        "session_started",
        "session_failed",
        "agent_state",
        "metrics",
        "turn",
        "error",
        "session_closed",
        "conversation_ended",
    }
)
MAX_TEXT_CHARS: Final = 4000
"""Longer strings are cut: a reliable data packet must stay well under LiveKit's 15 KiB."""


class WireError(ValueError):
    """A packet on the session topic that this version cannot read (one-line reason)."""


@dataclass(frozen=True, slots=True)
class WireSessionEvent:
    """One session event as it travels through the room."""

    seq: int
    role: str
    kind: str
    at: float
    payload: dict[str, Any] = field(default_factory=dict)


def encode(event: WireSessionEvent) -> bytes:
    """The packet for ``event`` (compact JSON, long strings cut, non-finite numbers as null)."""
    body = {
        "v": WIRE_VERSION,
        "seq": event.seq,
        "role": event.role,
        "kind": event.kind,
        "at": round(event.at, 3),
        "payload": _bounded(event.payload),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes) -> WireSessionEvent:
    """Read one packet; raises :class:`WireError` for anything this version does not know."""
    try:
        body = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"session event is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise WireError("session event is not a JSON object")
    if body.get("v") != WIRE_VERSION:
        raise WireError(f"session event version {body.get('v')!r} (this reader knows 1)")
    kind, role, seq, at = body.get("kind"), body.get("role"), body.get("seq"), body.get("at")
    payload = body.get("payload", {})
    if kind not in SESSION_EVENT_KINDS:
        raise WireError(f"unknown session event kind {kind!r}")
    if not isinstance(role, str) or not isinstance(seq, int) or seq < 1:
        raise WireError("session event without a role or a positive seq")
    if not isinstance(at, int | float) or not isinstance(payload, dict):
        raise WireError("session event without a time or a payload object")
    return WireSessionEvent(seq=seq, role=role, kind=kind, at=float(at), payload=payload)


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT_CHARS else value[: MAX_TEXT_CHARS - 1] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _bounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_bounded(item) for item in value]
    return value
