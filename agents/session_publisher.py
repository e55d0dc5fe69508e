"""Publishes one agent's session events on its own participant (see :mod:`agents.session_wire`).

Events are queued synchronously from session callbacks and written in order by one task, so
``seq`` numbers reach the room in the order they were given. Nothing a publisher does can fail a
session: a failed write is logged once and the event dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from livekit import rtc

from agents.session_wire import SESSION_TOPIC, WireSessionEvent, encode

logger = logging.getLogger("multi_agent_worker.events")


class SessionEventPublisher:
    """Writes session events as reliable data packets from ``room``'s local participant."""

    def __init__(self, room: rtc.Room, label: str) -> None:
        self._room = room
        self._label = label
        self._queue: asyncio.Queue[WireSessionEvent | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self._written = 0
        self._warned = False

    @property
    def room(self) -> rtc.Room:
        return self._room

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last event written to the room (0: none)."""
        return self._written

    def publish(self, role: str, kind: str, payload: dict[str, Any]) -> None:
        """Queue one event; it is written once the room is connected, in order."""
        self._seq += 1
        self._queue.put_nowait(WireSessionEvent(self._seq, role, kind, time.time(), payload))
        if self._task is None:
            self._task = asyncio.create_task(self._write_loop(), name=f"events:{self._label}")

    async def flush(self) -> None:
        """Wait until every queued event has been handed to the room."""
        if self._task is not None:
            await self._queue.join()

    async def aclose(self) -> None:
        """Write what is queued (if the room is still there), then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._task
        self._task = None

    async def _write_loop(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                if event is None:
                    return
                await self._write(event)
            finally:
                self._queue.task_done()

    async def _write(self, event: WireSessionEvent) -> None:
        if not self._room.isconnected():
            logger.debug("%s: room not connected, %s event dropped", self._label, event.kind)
            return
        try:
            await self._room.local_participant.publish_data(
                encode(event), reliable=True, topic=SESSION_TOPIC
            )
        except Exception as exc:
            if not self._warned:
                self._warned = True
                logger.warning("%s: session events not published: %s", self._label, exc)
            return
        self._written = event.seq
