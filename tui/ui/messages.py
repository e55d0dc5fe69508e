"""Textual messages: the only way anything reaches the app from adapters and other threads."""

from __future__ import annotations

from textual.message import Message

from tui.core.events import AudioLevel, WatchEvent


class DomainEventMessage(Message):
    """Carries one event from the backend's sink (any thread) to the app."""

    def __init__(self, event: WatchEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # Audio levels arrive ~10/s per agent and only the newest matters: let the queue
        # coalesce them when the app is busy.
        return (
            isinstance(self.event, AudioLevel)
            and isinstance(message, DomainEventMessage)
            and isinstance(message.event, AudioLevel)
            and message.event.identity == self.event.identity
            and message.event.room == self.event.room
        )
