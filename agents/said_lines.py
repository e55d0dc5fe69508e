"""What each agent said, kept as its own participant attribute: the line the room cannot lose.

A transcript travels as a data stream, and a subscriber's SDK aborts every stream still open from
a participant when it hears that participant left (livekit rust SDK: ``AbortStreamsFrom``). The
departure comes over the signal connection and the stream over the data channel; on a busy
machine an observer's data channel ran more than 3 s behind its signal connection, so a call's
last line was cut although every agent had it. Attributes travel on the signal connection, in
order with the departure: livekit-server sends a publisher's participant updates at once, and the
departure after them. So each agent keeps :data:`agents.constants.SAID_LINES_ATTRIBUTE` up to
date with its lines, and an observer recovers from it any line whose stream was cut
(``tui.core.said_ledger``). A late joiner reads it too.

The value is small JSON, newest lines last::

    {"v": 1, "n": 12, "lines": ["...", "..."]}

``n`` counts every line said; ``lines`` holds the newest that fit in :data:`MAX_CHARS` (the
server caps all of a participant's attributes at 64 KiB).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Final

from livekit import rtc

from agents.constants import SAID_LINES_ATTRIBUTE

logger = logging.getLogger("multi_agent_worker.said")

SAID_VERSION: Final = 1
MAX_CHARS: Final = 16_000
"""Characters of lines kept in the attribute (the oldest go first)."""


@dataclass(frozen=True)
class SaidLines:
    """``count`` lines said in all; ``lines`` the newest of them, oldest first."""

    count: int
    lines: tuple[str, ...]


def encode_said(lines: list[str], max_chars: int = MAX_CHARS) -> str:
    """The attribute value for ``lines`` (all lines said, oldest first)."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        size += len(line)
        if size > max_chars and kept:
            break
        kept.append(line[:max_chars])
    kept.reverse()
    return json.dumps({"v": SAID_VERSION, "n": len(lines), "lines": kept}, ensure_ascii=False)


def decode_said(value: str) -> SaidLines | None:
    """The lines in an attribute value; None when it is absent, of another version or unreadable
    (a reader skips it rather than failing)."""
    if not value:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != SAID_VERSION:
        return None
    count, lines = data.get("n"), data.get("lines")
    if not isinstance(count, int) or not isinstance(lines, list):
        return None
    if not all(isinstance(line, str) for line in lines) or len(lines) > count:
        return None
    return SaidLines(count, tuple(lines))


UPDATE_TIMEOUT_S = 10.0
"""How long one attribute update may wait for the server's answer: an update in flight when the
agent is removed from the room is never answered, and the job's end waits for the last one."""


class SaidLinesPublisher:
    """Keeps one agent's :data:`SAID_LINES_ATTRIBUTE` current, one update at a time, in order."""

    def __init__(self, room: rtc.Room) -> None:
        self._room = room
        self.lines: list[str] = []
        self._latest: asyncio.Task[None] | None = None

    def add(self, text: str) -> None:
        """Record a line the agent finished saying and publish the new value."""
        self.lines.append(text)
        value = encode_said(self.lines)
        self._latest = asyncio.ensure_future(self._publish(self._latest, value))

    async def _publish(self, previous: asyncio.Task[None] | None, value: str) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        if not self._room.isconnected():
            return
        try:
            async with asyncio.timeout(UPDATE_TIMEOUT_S):
                await self._room.local_participant.set_attributes({SAID_LINES_ATTRIBUTE: value})
        except TimeoutError:
            logger.warning(
                "the server did not answer the lines-said attribute update in %.0f s "
                "(the agent was removed?): going on",
                UPDATE_TIMEOUT_S,
            )
        except Exception as exc:  # a refused update must not end the call
            logger.warning("could not publish the lines said as an attribute: %s", exc)

    async def flush(self) -> None:
        """Until every update so far was answered by the server (or failed)."""
        if self._latest is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._latest)

    async def aclose(self) -> None:
        """Stop waiting for an update still in flight (the job is ending: a call that ended
        normally flushed before its agents left)."""
        latest, self._latest = self._latest, None
        if latest is not None and not latest.done():
            latest.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await latest
