"""The dashboard's own observer, timing what it sees in one room.

``RoomProbe`` wraps :class:`tui.core.observer.RoomObserver` (the real hidden observer) with a sink
that records, on the bench's clock, when each agent's audio track was subscribed, when Tim
first became audible, and which transcript segments arrived final. The bench measures
what the dashboard would show, not what the worker believes it did.

Only Tim's first sound needs audio: the probe reads Tim's frames until he is audible and no
other agent's at all (:meth:`RoomObserver.stop_levels`). With 20 rooms of two agents, reading
every frame in the bench process made the observers lag behind and miss lines the worker did
deliver: measurement overhead counted as the worker's loss.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from agents.tokens import observer_token
from tui.core.audio_level import SOUND_THRESHOLD_DBFS
from tui.core.events import (
    AudioLevel,
    DomainEvent,
    ParticipantLeft,
    SessionEvent,
    TrackUpdate,
    TranscriptSegment,
)
from tui.core.observer import RoomObserver

LEVEL_INTERVAL_S = 0.02
"""The dashboard meters every 200 ms; 20 ms here (and the SDK's 10 ms frames, see
:func:`tui.core.audio_level.meter_frame_ms`) so "first audible" is not rounded up by 0.2 s."""


class RoomProbe:
    """Observe one room hidden and record the moments the benchmarks report.

    ``t0`` is the moment the create-room request was sent; every ``*_s`` value is relative to
    it. Use ``async with``; ``wait_ready()`` returns once both agents are subscribed and Tim has
    been heard. ``agents`` (default Tim and Chris) are every agent identity the room expects:
    ``wait_all_subscribed()`` and ``all_subscribed_s`` are about all of them.
    ``on_session_event`` receives the agents' session events the probe reads, so a caller
    needs no second connection to the room for them.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        api_secret: str,
        room: str,
        *,
        t0: float,
        tim: str,
        chris: str,
        agents: Sequence[str] = (),
        on_session_event: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        self.room = room
        self.agents = frozenset(agents or (tim, chris))
        self.t0 = t0
        self.tim = tim
        self.chris = chris
        self.subscribed_at: dict[str, float] = {}
        self.audible_at: dict[str, float] = {}
        self.final_segments: set[str] = set()
        self.left: set[str] = set()
        self.event_count = 0
        self._on_session_event = on_session_event
        self._both_subscribed = asyncio.Event()
        self._tim_audible = asyncio.Event()
        self._all_subscribed = asyncio.Event()
        token = observer_token(api_key, api_secret, room, identity=f"bench-observer-{room[-6:]}")
        self._observer = RoomObserver(
            url, token, room, self._sink, level_interval_s=LEVEL_INTERVAL_S
        )

    def _sink(self, event: DomainEvent) -> None:
        # Called on the loop by the observer's rtc handlers: keep it to a few dict writes.
        self.event_count += 1
        now = time.monotonic()
        if isinstance(event, TrackUpdate):
            if event.status == "subscribed" and event.kind == "audio":
                self.subscribed_at.setdefault(event.identity, now)
                if event.identity != self.tim:  # before its meter starts: no frame read
                    self._observer.stop_levels(event.identity)
                if self.tim in self.subscribed_at and self.chris in self.subscribed_at:
                    self._both_subscribed.set()
                if self.agents <= self.subscribed_at.keys():
                    self._all_subscribed.set()
        elif isinstance(event, AudioLevel):
            if event.rms_dbfs > SOUND_THRESHOLD_DBFS and event.identity not in self.audible_at:
                # event.at is the end of the metering interval in which the sound was heard
                self.audible_at[event.identity] = event.at
                if event.identity == self.tim:
                    self._tim_audible.set()
                    self._observer.stop_levels(self.tim)  # measured: no more of his frames
        elif isinstance(event, TranscriptSegment):
            if event.final and event.text.strip():
                self.final_segments.add(event.segment_id)
        elif isinstance(event, ParticipantLeft):
            self.left.add(event.identity)
        elif isinstance(event, SessionEvent) and self._on_session_event is not None:
            self._on_session_event(event)

    @property
    def observer(self) -> RoomObserver:
        """The hidden observer behind the probe (tests read its tasks)."""
        return self._observer

    async def __aenter__(self) -> RoomProbe:
        await self._observer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._observer.aclose()

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait for both agents subscribed and Tim audible; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._both_subscribed.wait()
                await self._tim_audible.wait()
        except TimeoutError:
            return False
        return True

    async def wait_all_subscribed(self, timeout_s: float) -> bool:
        """Wait for every agent's audio subscribed; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._all_subscribed.wait()
        except TimeoutError:
            return False
        return True

    @property
    def all_subscribed_s(self) -> float | None:
        """Create-room request to the last of the agents' audio subscriptions."""
        if self.agents <= self.subscribed_at.keys():
            return max(self.subscribed_at[agent] for agent in self.agents) - self.t0
        return None

    @property
    def both_subscribed_s(self) -> float | None:
        """Create-room request to the later of the two agents' audio subscriptions."""
        if self.tim in self.subscribed_at and self.chris in self.subscribed_at:
            return max(self.subscribed_at[self.tim], self.subscribed_at[self.chris]) - self.t0
        return None

    @property
    def tim_audible_s(self) -> float | None:
        """Create-room request to the first metering interval in which Tim was audible."""
        at = self.audible_at.get(self.tim)
        return None if at is None else at - self.t0
