"""What a person is told, once, about an agent session event (the app shows it as a toast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tui.core.events import SessionEvent


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification: its text, how bad it is and how long it stays (seconds)."""

    text: str
    severity: Literal["information", "warning", "error"]
    timeout: float


def session_notice(event: SessionEvent) -> Notice | None:
    """A notice for a session that failed, broke or ended; None for every other event."""
    if event.kind == "session_failed":
        error = event.payload.get("error")
        return Notice(f"{event.role} session failed to start: {error}", "error", 10)
    if event.kind == "error" and not event.payload.get("recoverable", True):
        return Notice(f"{event.role} session error: {event.payload.get('error')}", "error", 10)
    if event.kind == "conversation_ended":
        reason = event.payload.get("reason")
        return Notice(f"Conversation in {event.room} ended: {reason}", "information", 5)
    return None
