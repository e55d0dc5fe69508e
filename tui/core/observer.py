"""Watch one LiveKit room as a hidden, subscribe-only participant and emit domain events.

The observer is an adapter: it knows livekit.rtc, nothing of Textual. rtc callbacks run on the
asyncio loop the observer was started on; each one is turned into a :mod:`tui.core.events` value and
handed to a plain callable sink, which must be cheap (the app wraps it with ``post_message``).

What it reports and why:

- participants, attributes (``lk.agent.state``), tracks and their subscription status, active
  speakers and connection quality, straight from the room's events;
- after connecting, everything already in the room (``remote_participants`` and their
  publications), because rtc events only describe later changes and ``connected`` is never
  emitted for the room being joined;
- an RMS level per subscribed audio track, measured from the received frames: a published but
  silent track is a classic failure that active speakers alone cannot show;
- each agent's session events (turns and their latency, errors, voice), from the data packets
  its participant publishes (:mod:`tui.core.session_channel`);
- transcripts from the ``lk.transcription`` text streams, read incrementally so a segment appears
  as it is spoken; whether it is final is only known from the stream's trailer;
- what an agent said before the observer joined, from its said-lines attribute (no transcript
  is replayed to a late joiner);
- a departure only after the lines the participant said (its said-lines attribute): the
  observer waits a moment for their streams, then recovers the rest from the attribute; a late
  copy of a recovered line is dropped (:mod:`tui.core.line_keeper`).

The token must grant ``hidden=True`` and no publishing (see :func:`observer_grants`): the agents
must not see the dashboard, and the server still delivers text streams to hidden participants.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

from livekit import api, rtc

from agents.constants import TRANSCRIPTION_TOPIC
from tui.core.events import (
    DomainEvent,
    ObserverState,
    ObserverStatus,
)
from tui.core.line_keeper import LineKeeper
from tui.core.redaction import redact_tokens
from tui.core.room_events import ROOM_EVENTS, RoomEvents
from tui.core.room_readers import read_levels, read_transcript
from tui.core.session_channel import SessionChannelReader

logger = logging.getLogger("tui.observer")


Sink = Callable[[DomainEvent], object]
AudioSink = Callable[[str, rtc.AudioFrame], None]
"""Receives ``(identity, frame)`` for every audio frame the level meters read (16 kHz mono)."""


class ObserverError(RuntimeError):
    """The observer could not join its room (the detail is safe to show: no token in it)."""


def observer_grants(room_name: str) -> api.VideoGrants:
    """The grants an observer token needs: join hidden, subscribe, never publish."""
    return api.VideoGrants(
        room_join=True,
        room=room_name,
        hidden=True,
        can_subscribe=True,
        can_publish=False,
        can_publish_data=False,
    )


class RoomObserver:
    """Joins ``room_name`` hidden and subscribe-only and reports it to ``sink``.

    Use ``async with RoomObserver(...)`` or ``await start()`` / ``await aclose()`` on one asyncio
    loop. ``start()`` raises :class:`ObserverError` when the room cannot be joined (after emitting
    an ``ObserverStatus`` ``failed``). ``aclose()`` removes every handler, cancels and awaits every
    task it started and disconnects; it is idempotent and safe after a failed start.
    """

    def __init__(
        self,
        url: str,
        token: str,
        room_name: str,
        sink: Sink,
        *,
        level_interval_s: float = 0.1,
        connect_timeout_s: float = 10.0,
        meter_levels: bool = True,
        audio_sink: AudioSink | None = None,
    ) -> None:
        if level_interval_s <= 0:
            raise ValueError(f"level_interval_s must be positive, got {level_interval_s}")
        if audio_sink is not None and not meter_levels:
            raise ValueError("audio_sink needs meter_levels=True: the meters read the frames")
        self._url = url
        self._token = token
        self.room_name = room_name
        self._sink = sink
        self._level_interval_s = level_interval_s
        self._meter_levels = meter_levels
        """False: no audio frames reach Python (no ``AudioLevel`` events), for watchers of many
        rooms that only need joins, tracks and transcripts."""
        self._audio_sink = audio_sink
        """Also handed every metered frame (a call recorder); None costs nothing."""
        self._connect_timeout_s = connect_timeout_s
        self._room: rtc.Room | None = None
        self._handlers: dict[str, Callable[..., None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._meters: dict[str, asyncio.Task[None]] = {}  # by track sid
        self._meter_owner: dict[str, str] = {}  # track sid -> participant identity
        self._unmetered: set[str] = set()  # identities whose audio is no longer read
        self._text_handler_registered = False
        self._events = RoomEvents(
            room_name,
            self._emit,
            self._status,
            start_meter=self._start_meter,
            stop_meter=self._stop_meter,
            stop_meters_of=self._stop_meters_of,
        )
        self._session_channel = SessionChannelReader(room_name, self._emit)
        self._readers: dict[str, set[asyncio.Task[None]]] = {}  # transcript readers by identity
        self._lines = LineKeeper(room_name, self._deliver, self._spawn, self._reading)
        self._started = False
        self._closed = False
        self.connect_seconds: float | None = None
        """How long the last successful connect took (for diagnostics)."""

    def __repr__(self) -> str:
        # Never show the token.
        return f"RoomObserver(url={self._url!r}, room={self.room_name!r})"

    # -- properties

    @property
    def room(self) -> rtc.Room | None:
        """The underlying rtc room while started (read-only use: diagnostics, tests)."""
        return self._room

    @property
    def identity(self) -> str | None:
        """The observer's own identity once connected."""
        if self._room is None or not self._room.isconnected():
            return None
        return self._room.local_participant.identity

    @property
    def tasks(self) -> frozenset[asyncio.Task[None]]:
        """Tasks the observer currently owns (meters and transcript readers)."""
        return frozenset(self._tasks)

    # -- lifetime

    async def __aenter__(self) -> RoomObserver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect, subscribe to everything, and replay what is already in the room."""
        if self._started:
            raise RuntimeError("RoomObserver.start() called twice; create a new observer")
        self._started = True
        self._status("connecting", f"joining room {self.room_name!r} at {self._url}")
        room = rtc.Room(loop=asyncio.get_running_loop())
        self._room = room
        # Handlers go on before connect: the room's event task starts inside connect() and
        # nothing between connect() returning and the replay below yields to it, so the replay
        # and the live events neither overlap nor leave a gap.
        for name in ROOM_EVENTS:
            handler = getattr(self._events, f"on_{name}")
            self._handlers[name] = handler
            room.on(name, handler)  # type: ignore[arg-type]
        room.register_text_stream_handler(TRANSCRIPTION_TOPIC, self._on_text_stream)
        self._text_handler_registered = True
        self._session_channel.attach(room)
        started = time.monotonic()
        try:
            await room.connect(
                self._url,
                self._token,
                rtc.RoomOptions(auto_subscribe=True, connect_timeout=self._connect_timeout_s),
            )
        except (rtc.ConnectError, OSError) as error:
            reason = redact_tokens(str(error).replace(self._token, "<token>"))
            detail = f"could not join room {self.room_name!r} at {self._url}: {reason}"
            logger.warning("%s", detail)
            self._status("failed", detail)
            await self._teardown()
            raise ObserverError(detail) from None  # the cause's message holds the token
        except BaseException:
            await self._teardown()
            raise
        self.connect_seconds = time.monotonic() - started
        count = self._events.replay(room)
        self._status(
            "connected",
            f"observing room {self.room_name!r} hidden as {room.local_participant.identity!r} "
            f"({count} participant{'s' if count != 1 else ''}, "
            f"joined in {self.connect_seconds:.2f} s)",
            room.metadata,
        )
        logger.info(
            "observing room %s (%d participants, %.2fs)",
            self.room_name,
            count,
            self.connect_seconds,
        )

    async def aclose(self) -> None:
        """Stop observing. Idempotent; the sink gets a final ``disconnected`` status if started."""
        if self._closed:
            return
        self._closed = True
        was_connected = self._room is not None and self._room.isconnected()
        await self._teardown()
        if was_connected:
            self._status("disconnected", f"stopped observing room {self.room_name!r}")

    async def _teardown(self) -> None:
        room = self._room
        if room is not None:
            # Handlers off first: disconnect() emits "disconnected" itself and nothing should
            # be reported (or meters started) from a room we are tearing down.
            for name, handler in self._handlers.items():
                room.off(name, handler)  # type: ignore[arg-type]
            self._handlers.clear()
            if self._text_handler_registered:
                room.unregister_text_stream_handler(TRANSCRIPTION_TOPIC)
                self._text_handler_registered = False
            self._session_channel.detach()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._meters.clear()
        self._meter_owner.clear()
        if room is not None:
            try:
                await room.disconnect()
            except Exception:  # the room may be half-connected after a failure
                logger.debug("error while disconnecting the observer room", exc_info=True)
            self._room = None

    # -- helpers

    def _emit(self, event: DomainEvent) -> None:
        self._lines.emit(event)

    def _reading(self, identity: str) -> bool:
        """Whether a transcript stream of ``identity`` is still being read (by a task other
        than the one asking: a reader emitting its final segment asks about the others)."""
        current = asyncio.current_task()
        return any(
            not task.done() and task is not current for task in self._readers.get(identity, ())
        )

    def _deliver(self, event: DomainEvent) -> None:
        try:
            self._sink(event)
        except Exception:
            # A broken sink must not break the rtc event loop; say so once per event.
            logger.exception("observer sink failed on %s", type(event).__name__)

    def _status(self, state: ObserverState, detail: str, metadata: str = "") -> None:
        self._emit(
            ObserverStatus(room=self.room_name, state=state, detail=detail, metadata=metadata)
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=f"tui.observer:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("observer task %s failed", task.get_name(), exc_info=task.exception())

    def stop_levels(self, identity: str) -> None:
        """Stop reading ``identity``'s audio for good: its meters close their streams, a later
        track of it gets none, and its frames stop reaching Python (a probe that has measured
        what it needed keeps only the cheap events: tracks, transcripts, session data)."""
        self._unmetered.add(identity)
        self._stop_meters_of(identity)

    def _stop_meters_of(self, identity: str) -> None:
        for sid, owner in list(self._meter_owner.items()):
            if owner == identity:
                self._stop_meter(sid)

    # -- audio level meters

    def _start_meter(
        self,
        participant: rtc.RemoteParticipant,
        publication: rtc.TrackPublication,
        track: rtc.Track,
    ) -> None:
        if not self._meter_levels or not isinstance(track, rtc.RemoteAudioTrack) or self._closed:
            return
        if participant.identity in self._unmetered:
            return
        sid = publication.sid
        if sid in self._meters and not self._meters[sid].done():
            return
        identity = participant.identity
        self._meter_owner[sid] = identity
        self._meters[sid] = self._spawn(self._meter(identity, sid, track), f"meter:{identity}")

    def _stop_meter(self, sid: str) -> None:
        task = self._meters.pop(sid, None)
        self._meter_owner.pop(sid, None)
        if task is not None:
            task.cancel()  # awaited by aclose() through self._tasks

    async def _meter(self, identity: str, sid: str, track: rtc.RemoteAudioTrack) -> None:
        try:
            await read_levels(
                track,
                self._level_interval_s,
                self._emit,
                room=self.room_name,
                identity=identity,
                sid=sid,
                frames=self._audio_sink,
            )
        finally:
            if self._meters.get(sid) is asyncio.current_task():
                self._meters.pop(sid, None)
                self._meter_owner.pop(sid, None)

    # -- transcripts

    def _on_text_stream(self, reader: rtc.TextStreamReader, participant_identity: str) -> None:
        if self._closed:
            reader.close()
            return
        task = self._spawn(
            read_transcript(reader, self._emit, room=self.room_name, identity=participant_identity),
            f"transcript:{participant_identity}",
        )
        readers = self._readers.setdefault(participant_identity, set())
        readers.add(task)
        task.add_done_callback(readers.discard)
