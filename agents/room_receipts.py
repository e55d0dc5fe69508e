"""What one agent's room has received from the other agents: proof that the server has it.

A participant that leaves right after writing its last transcript trailer loses it: the SDK
disposes of open streams and the server drops data that arrives after the leave (measured: 1 call
in 20 lost its final "Goodbye" line that way, at 10 calls at once). Data that another participant
of the room received has reached the server, which forwards it to every subscriber (the observer
too) whatever the sender does next. So before the agents leave, the worker waits until each has
received every other agent's last final transcript segment and last session event.

``PeerReceipts`` also drops LiveKit's own ``lk.agent.session`` byte streams (the primary session
publishes them; nothing in the other agents' rooms consumes them) so the SDK does not log every
one of them as unhandled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from livekit import rtc

from agents.constants import (
    LIVEKIT_SESSION_TOPIC,
    TRANSCRIPTION_FINAL_ATTRIBUTE,
    TRANSCRIPTION_TOPIC,
)
from agents.session_wire import SESSION_TOPIC, WireError, decode

logger = logging.getLogger("multi_agent_worker.receipts")


class PeerReceipts:
    """Counts final transcript segments and the last session event ``seq`` per sender."""

    def __init__(self, room: rtc.Room, *, drop_livekit_session: bool = False) -> None:
        self._room = room
        self._drop_livekit_session = drop_livekit_session
        self.finals: dict[str, int] = {}
        self.last_seq: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False

    def start(self) -> None:
        """Register the handlers (before the room connects, so nothing is missed)."""
        if self._started:
            return
        self._started = True
        self._room.register_text_stream_handler(TRANSCRIPTION_TOPIC, self._on_transcript)
        if self._drop_livekit_session:
            self._room.register_byte_stream_handler(LIVEKIT_SESSION_TOPIC, discard_byte_stream)
        self._room.on("data_received", self._on_data)

    async def aclose(self) -> None:
        if not self._started:
            return
        self._started = False
        self._room.off("data_received", self._on_data)
        with contextlib.suppress(Exception):
            self._room.unregister_text_stream_handler(TRANSCRIPTION_TOPIC)
        if self._drop_livekit_session:
            with contextlib.suppress(Exception):
                self._room.unregister_byte_stream_handler(LIVEKIT_SESSION_TOPIC)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_for(self, sender: str, *, finals: int, seq: int, timeout_s: float) -> bool:
        """Until ``sender``'s ``finals`` final segments and event ``seq`` arrived; False on
        timeout or when this room is no longer connected (nothing more can arrive)."""
        try:
            async with asyncio.timeout(timeout_s):
                while not self._has(sender, finals, seq):
                    if not self._room.isconnected():
                        return False
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def _has(self, sender: str, finals: int, seq: int) -> bool:
        return self.finals.get(sender, 0) >= finals and self.last_seq.get(sender, 0) >= seq

    def _on_transcript(self, reader: rtc.TextStreamReader, sender: str) -> None:
        self._spawn(self._read_transcript(reader, sender))

    async def _read_transcript(self, reader: rtc.TextStreamReader, sender: str) -> None:
        try:
            await reader.read_all()
        except rtc.StreamError:
            return
        finally:
            reader.close()
        if (reader.info.attributes or {}).get(TRANSCRIPTION_FINAL_ATTRIBUTE, "").lower() == "true":
            self.finals[sender] = self.finals.get(sender, 0) + 1
            self._changed.set()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != SESSION_TOPIC or packet.participant is None:
            return
        try:
            seq = decode(packet.data).seq
        except WireError as exc:
            logger.debug("unreadable session event from %s: %s", packet.participant.identity, exc)
            return
        sender = packet.participant.identity
        self.last_seq[sender] = max(seq, self.last_seq.get(sender, 0))
        self._changed.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def discard_byte_stream(reader: rtc.ByteStreamReader, _sender: str) -> None:
    """A byte-stream handler that drops the stream unread: what the SDK does for a topic with
    no handler, without logging every stream on the root logger. ``close()`` unsubscribes the
    reader at once, so no task and no FFI queue subscription outlive the call."""
    reader.close()
