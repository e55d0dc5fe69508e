"""The observer's reader of the agents' session channel (see :mod:`agents.session_wire`).

Every agent publishes its session events (state, turns with their latency, errors, voice,
conversation end) as data packets on its own participant, so an observer anywhere (the
dashboard's own process, a cluster, LiveKit Cloud) learns exactly what the in-process worker
knows. It also drops LiveKit's own ``lk.agent.session`` byte streams, which the primary agent
session publishes to everyone: with no handler, the SDK logs each one on the root logger.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from livekit import rtc

from agents.constants import LIVEKIT_SESSION_TOPIC
from agents.room_receipts import discard_byte_stream
from agents.session_wire import SESSION_TOPIC, WireError, decode
from tui.core.events import DomainEvent, SessionEvent

logger = logging.getLogger("tui.observer")


class SessionChannelReader:
    """Turns session-event packets of one room into :class:`SessionEvent` domain events."""

    def __init__(self, room_name: str, emit: Callable[[DomainEvent], None]) -> None:
        self._room_name = room_name
        self._emit = emit
        self._room: rtc.Room | None = None
        self.unreadable = 0
        """Packets on the session topic this version could not read (newer worker?)."""

    def attach(self, room: rtc.Room) -> None:
        """Register on ``room`` before it connects, so no packet is missed."""
        self._room = room
        room.on("data_received", self._on_data_received)
        room.register_byte_stream_handler(LIVEKIT_SESSION_TOPIC, discard_byte_stream)

    def detach(self) -> None:
        room, self._room = self._room, None
        if room is None:
            return
        room.off("data_received", self._on_data_received)
        with contextlib.suppress(Exception):
            room.unregister_byte_stream_handler(LIVEKIT_SESSION_TOPIC)

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        if packet.topic != SESSION_TOPIC:
            return
        sender = packet.participant.identity if packet.participant else ""
        try:
            wire = decode(packet.data)
        except WireError as exc:
            self.unreadable += 1
            if self.unreadable == 1:
                logger.warning("session event from %s skipped: %s", sender or "server", exc)
            return
        self._emit(
            SessionEvent(
                room=self._room_name,
                identity=sender,
                role=wire.role,
                kind=wire.kind,
                payload=wire.payload,
                seq=wire.seq,
                sent_at=wire.at,
            )
        )
