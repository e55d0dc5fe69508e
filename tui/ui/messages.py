"""Textual messages: the only way anything reaches the app from adapters and other threads."""

from __future__ import annotations

from textual.message import Message

from tui.core.backend import ServerStatus
from tui.core.events import AudioLevel, DomainEvent
from tui.core.worker_runner import WorkerStatus


class DomainEventMessage(Message):
    """Carries one domain event from the observer to the app."""

    def __init__(self, event: DomainEvent) -> None:
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


class WorkerStatusChanged(Message):
    """The in-process agent worker changed state."""

    def __init__(self, status: WorkerStatus) -> None:
        super().__init__()
        self.status = status


class ServerStatusChanged(Message):
    """The LiveKit server (local or remote) changed state."""

    def __init__(self, status: ServerStatus) -> None:
        super().__init__()
        self.status = status
