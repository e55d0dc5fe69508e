"""Between the observer's adapters and its sink: every line an agent said reaches the sink,
and an agent's departure only after its lines (the rules are :mod:`tui.core.said_ledger`'s).

- A participant found in the room when the observer joined brings the lines it said before,
  from its said-lines attribute: LiveKit replays no transcript to a late joiner.
- A line whose transcript never arrived while a later line of the same agent did is recovered
  from the attribute right before that later line: one agent's streams arrive in order.
- A departure waits up to :data:`DEPARTURE_WAIT_S` for the lines the participant's attribute
  lists (the data channel can run seconds behind the signal connection that brings the
  departure), then the missing ones are recovered from the attribute, then the departure is
  delivered. A later copy of a recovered line is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tui.core.events import DomainEvent, ParticipantJoined, ParticipantLeft, TranscriptSegment
from tui.core.said_ledger import SaidLedger

logger = logging.getLogger("tui.observer")

DEPARTURE_WAIT_S = 5.0
"""How long a departure waits for lines the participant said to arrive as transcripts before
they are recovered from its attribute: on a busy machine an observer's data channel ran 4 s
behind the departure."""
DEPARTURE_POLL_S = 0.05


class LineKeeper:
    """Routes an observer's events to ``deliver``, adding recovered lines and holding departures.

    ``spawn`` runs a coroutine as a task the observer owns (cancelled when it closes);
    ``reading`` says whether a transcript of that identity is still being read.
    """

    def __init__(
        self,
        room: str,
        deliver: Callable[[DomainEvent], None],
        spawn: Callable[[Coroutine[Any, Any, None], str], object],
        reading: Callable[[str], bool],
    ) -> None:
        self._room = room
        self._deliver = deliver
        self._spawn = spawn
        self._reading = reading
        self._ledger = SaidLedger(room)
        self._recovered: set[str] = set()  # departed with lines recovered: later copies dropped

    def emit(self, event: DomainEvent) -> None:
        if isinstance(event, ParticipantLeft):
            self._depart(event)
            return
        if isinstance(event, ParticipantJoined):
            if not self._ledger.returning(event):  # else the observer reconnected
                self._recovered.discard(event.identity)  # a new session: its lines are new
            self._pass(event)
            for segment in self._ledger.history(event.identity):  # said before we joined
                self._pass(segment)
            return
        if isinstance(event, TranscriptSegment) and event.identity in self._recovered:
            # everything it said was heard or recovered at its departure: a late copy
            logger.debug("%s: late transcript from %s dropped", self._room, event.identity)
            return
        if isinstance(event, TranscriptSegment) and not self._reading(event.identity):
            # (an earlier line still being read is not lost)
            for segment in self._ledger.passed_over(event):  # counted as heard already
                logger.warning(
                    "%s: recovered %s's line %r from its said-lines attribute (its transcript "
                    "never arrived; a later line did)",
                    self._room,
                    event.identity,
                    segment.text,
                )
                self._deliver(segment)
        self._pass(event)

    def _pass(self, event: DomainEvent) -> None:
        self._ledger.seen(event)
        self._deliver(event)

    def _depart(self, left: ParticipantLeft) -> None:
        if not self._awaiting_lines(left.identity):
            self._recover_then(left)
            return
        self._spawn(self._depart_later(left), f"departure:{left.identity}")

    def _awaiting_lines(self, identity: str) -> bool:
        return self._reading(identity) or bool(self._ledger.owed(identity))

    async def _depart_later(self, left: ParticipantLeft) -> None:
        deadline = time.monotonic() + DEPARTURE_WAIT_S
        while self._awaiting_lines(left.identity) and time.monotonic() < deadline:
            await asyncio.sleep(DEPARTURE_POLL_S)
        self._recover_then(left)

    def _recover_then(self, left: ParticipantLeft) -> None:
        for segment in self._ledger.recover(left.identity):
            logger.warning(  # the data channel lags seconds: worth seeing in the log pane
                "%s: recovered %s's line %r from its said-lines attribute (its transcript "
                "stream had not arrived %.0f s after it left)",
                self._room,
                left.identity,
                segment.text,
                DEPARTURE_WAIT_S,
            )
            self._recovered.add(left.identity)
            self._deliver(segment)
        self._deliver(left)
