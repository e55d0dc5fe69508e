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
- transcripts from the ``lk.transcription`` text streams, read incrementally so a segment appears
  as it is spoken; whether it is final is only known from the stream's trailer.

The token must grant ``hidden=True`` and no publishing (see :func:`observer_grants`): the agents
must not see the dashboard, and the server still delivers text streams to hidden participants.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import numpy as np
from livekit import api, rtc

from agents.constants import TRANSCRIPTION_TOPIC
from tui.core.audio_level import LevelMeter, meter_frame_ms
from tui.core.events import (
    ActiveSpeakers,
    AttributesChanged,
    AudioLevel,
    ConnectionQualityChanged,
    DomainEvent,
    ObserverState,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    TrackStatus,
    TrackUpdate,
    TranscriptSegment,
    freeze_attributes,
)
from tui.core.redaction import redact_tokens

logger = logging.getLogger("tui.observer")

Sink = Callable[[DomainEvent], None]

SEGMENT_ID_ATTRIBUTE: Final = "lk.segment_id"
FINAL_ATTRIBUTE: Final = "lk.transcription_final"
TRACK_ID_ATTRIBUTE: Final = "lk.transcribed_track_id"

METER_SAMPLE_RATE: Final = 16_000
"""Frames are resampled to this rate by the SDK; a level meter needs no more, numpy does less."""
METER_QUEUE_S: Final = 0.5
"""Bounded frame queue per track: if the loop stalls longer, old frames are dropped."""
MAX_ANNOUNCE_DELAY_S: Final = 5.0
"""At most this much earlier than its announcement is a live join dated (see server_join_time)."""

_EVENTS: Final[tuple[str, ...]] = (
    "participant_connected",
    "participant_disconnected",
    "participant_attributes_changed",
    "participant_name_changed",
    "track_published",
    "track_unpublished",
    "track_subscribed",
    "track_unsubscribed",
    "track_subscription_failed",
    "track_muted",
    "track_unmuted",
    "active_speakers_changed",
    "connection_quality_changed",
    "reconnecting",
    "reconnected",
    "disconnected",
)


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


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    """``SOURCE_MICROPHONE`` -> ``microphone``; unknown values keep their number."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower()


def kind_name(kind: int) -> str:
    return _enum_name(rtc.ParticipantKind, kind, "PARTICIPANT_KIND_")


def source_name(source: int) -> str:
    return _enum_name(rtc.TrackSource, source, "SOURCE_")


def track_kind_name(kind: int) -> str:
    return _enum_name(rtc.TrackKind, kind, "KIND_")


def quality_name(quality: int) -> str:
    try:
        return rtc.ConnectionQuality(quality).name.removeprefix("QUALITY_").lower()
    except ValueError:
        return str(quality)


def server_join_time(participant: rtc.Participant, now: float) -> float:
    """When the server says ``participant`` joined, on the monotonic clock of ``now``.

    livekit-server 1.13.5 announces a participant that publishes nothing about 2.8 s after it
    joined (one that publishes, with its first track): a live join is dated by the server, so
    "no audio track for N s" counts from the join (tests/test_faults_e2e.py). The correction is
    capped at :data:`MAX_ANNOUNCE_DELAY_S`, so a remote server's clock cannot date a join far
    into the past.
    """
    joined = participant.joined_at
    if joined is None:
        return now
    delay = (datetime.now(UTC) - joined).total_seconds()
    return now - min(max(delay, 0.0), MAX_ANNOUNCE_DELAY_S)


def disconnect_reason_name(reason: int | None) -> str:
    if reason is None:
        return ""
    return _enum_name(rtc.DisconnectReason, reason, "")


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
    ) -> None:
        if level_interval_s <= 0:
            raise ValueError(f"level_interval_s must be positive, got {level_interval_s}")
        self._url = url
        self._token = token
        self.room_name = room_name
        self._sink = sink
        self._level_interval_s = level_interval_s
        self._connect_timeout_s = connect_timeout_s
        self._room: rtc.Room | None = None
        self._handlers: dict[str, Callable[..., None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._meters: dict[str, asyncio.Task[None]] = {}  # by track sid
        self._meter_owner: dict[str, str] = {}  # track sid -> participant identity
        self._text_handler_registered = False
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
        for name in _EVENTS:
            handler = getattr(self, f"_on_{name}")
            self._handlers[name] = handler
            room.on(name, handler)  # type: ignore[arg-type]
        room.register_text_stream_handler(TRANSCRIPTION_TOPIC, self._on_text_stream)
        self._text_handler_registered = True
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
        count = self._replay(room)
        self._status(
            "connected",
            f"observing room {self.room_name!r} hidden as {room.local_participant.identity!r} "
            f"({count} participant{'s' if count != 1 else ''}, "
            f"joined in {self.connect_seconds:.2f} s)",
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
        try:
            self._sink(event)
        except Exception:
            # A broken sink must not break the rtc event loop; say so once per event.
            logger.exception("observer sink failed on %s", type(event).__name__)

    def _status(self, state: ObserverState, detail: str) -> None:
        self._emit(ObserverStatus(room=self.room_name, state=state, detail=detail))

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=f"tui.observer:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("observer task %s failed", task.get_name(), exc_info=task.exception())

    def _replay(self, room: rtc.Room) -> int:
        participants = list(room.remote_participants.values())
        for participant in participants:
            self._joined(participant)
            for publication in participant.track_publications.values():
                self._track(participant, publication, "published")
                track = publication.track
                if publication.subscribed and track is not None:
                    self._track(participant, publication, "subscribed")
                    self._start_meter(participant, publication, track)
            if participant.connection_quality != rtc.ConnectionQuality.QUALITY_UNKNOWN:
                self._on_connection_quality_changed(participant, participant.connection_quality)
        return len(participants)

    def _joined(self, participant: rtc.Participant, *, live: bool = False) -> None:
        event = ParticipantJoined(
            room=self.room_name,
            identity=participant.identity,
            name=participant.name,
            kind=kind_name(participant.kind),
            attributes=freeze_attributes(participant.attributes),
            sid=participant.sid,
        )
        if live:  # a replayed participant may have been there for hours: count from now
            event = dataclasses.replace(event, at=server_join_time(participant, event.at))
        self._emit(event)

    def _track(
        self,
        participant: rtc.Participant,
        publication: rtc.TrackPublication,
        status: TrackStatus,
        error: str = "",
    ) -> None:
        self._emit(
            TrackUpdate(
                room=self.room_name,
                identity=participant.identity,
                sid=publication.sid,
                name=publication.name,
                source=source_name(publication.source),
                kind=track_kind_name(publication.kind),
                muted=publication.muted,
                status=status,
                error=error,
            )
        )

    # -- rtc event handlers (called on the loop, synchronously, by the room's event task)

    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        self._joined(participant, live=True)

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        for sid, owner in list(self._meter_owner.items()):
            if owner == participant.identity:
                self._stop_meter(sid)
        self._emit(
            ParticipantLeft(
                room=self.room_name,
                identity=participant.identity,
                reason=disconnect_reason_name(participant.disconnect_reason),
            )
        )

    def _on_participant_attributes_changed(
        self, changed: dict[str, str], participant: rtc.Participant
    ) -> None:
        if isinstance(participant, rtc.LocalParticipant):
            return
        self._emit(
            AttributesChanged(
                room=self.room_name,
                identity=participant.identity,
                attributes=freeze_attributes(participant.attributes),
                changed=freeze_attributes(changed),
            )
        )

    def _on_participant_name_changed(
        self, participant: rtc.Participant, old_name: str, new_name: str
    ) -> None:
        # The name takes part in role matching; a re-announcement refreshes it in the state.
        if not isinstance(participant, rtc.LocalParticipant):
            self._joined(participant)

    def _on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self._track(participant, publication, "published")

    def _on_track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self._stop_meter(publication.sid)
        self._track(participant, publication, "unpublished")

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        self._track(participant, publication, "subscribed")
        self._start_meter(participant, publication, track)

    def _on_track_unsubscribed(
        self,
        track: rtc.Track | None,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        self._stop_meter(publication.sid)
        self._track(participant, publication, "unsubscribed")

    def _on_track_subscription_failed(
        self, participant: rtc.RemoteParticipant, track_sid: str, error: str
    ) -> None:
        publication = participant.track_publications.get(track_sid)
        logger.warning(
            "subscription to %s's track %s failed: %s", participant.identity, track_sid, error
        )
        if publication is not None:
            self._track(participant, publication, "subscription_failed", error)
        else:
            self._emit(
                TrackUpdate(
                    room=self.room_name,
                    identity=participant.identity,
                    sid=track_sid,
                    status="subscription_failed",
                    error=error,
                )
            )

    def _on_track_muted(
        self, participant: rtc.Participant, publication: rtc.TrackPublication
    ) -> None:
        if not isinstance(participant, rtc.LocalParticipant):
            self._track(participant, publication, "muted")

    def _on_track_unmuted(
        self, participant: rtc.Participant, publication: rtc.TrackPublication
    ) -> None:
        if not isinstance(participant, rtc.LocalParticipant):
            self._track(participant, publication, "unmuted")

    def _on_active_speakers_changed(self, speakers: list[rtc.Participant]) -> None:
        identities = tuple(speaker.identity for speaker in speakers)
        self._emit(ActiveSpeakers(room=self.room_name, identities=identities))

    def _on_connection_quality_changed(
        self, participant: rtc.Participant | None, quality: int
    ) -> None:
        # The observer's own quality arrives here too: it is not a participant of interest.
        if participant is None or isinstance(participant, rtc.LocalParticipant):
            return
        self._emit(
            ConnectionQualityChanged(
                room=self.room_name, identity=participant.identity, quality=quality_name(quality)
            )
        )

    def _on_reconnecting(self) -> None:
        self._status("reconnecting", "connection to the server lost; reconnecting")

    def _on_reconnected(self) -> None:
        self._status("reconnected", "reconnected to the server")

    def _on_disconnected(self, reason: int) -> None:
        name = disconnect_reason_name(reason)
        logger.info("observer disconnected from %s: %s", self.room_name, name)
        self._status("disconnected", f"disconnected from room {self.room_name!r}: {name}")

    # -- audio level meters

    def _start_meter(
        self,
        participant: rtc.RemoteParticipant,
        publication: rtc.TrackPublication,
        track: rtc.Track,
    ) -> None:
        if not isinstance(track, rtc.RemoteAudioTrack) or self._closed:
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
        frame_ms = meter_frame_ms(self._level_interval_s)
        stream = rtc.AudioStream.from_track(
            track=track,
            sample_rate=METER_SAMPLE_RATE,
            num_channels=1,
            # longer frames, fewer wake-ups of the loop (each frame is one cross-thread event)
            frame_size_ms=frame_ms,
            capacity=max(1, round(METER_QUEUE_S * 1000 / frame_ms)),
        )
        meter = LevelMeter(self._level_interval_s)
        try:
            async for frame_event in stream:
                samples = np.frombuffer(frame_event.frame.data, dtype=np.int16)
                now = time.monotonic()
                level = meter.add(samples, now)
                if level is not None:
                    self._emit(
                        AudioLevel(
                            room=self.room_name,
                            identity=identity,
                            rms_dbfs=level,
                            track_sid=sid,
                            at=now,
                        )
                    )
        finally:
            # Also on cancellation: the stream owns an SDK task and an FFI handle.
            with contextlib.suppress(Exception):
                await stream.aclose()
            if self._meters.get(sid) is asyncio.current_task():
                self._meters.pop(sid, None)
                self._meter_owner.pop(sid, None)

    # -- transcripts

    def _on_text_stream(self, reader: rtc.TextStreamReader, participant_identity: str) -> None:
        if self._closed:
            reader.close()
            return
        self._spawn(
            self._read_transcript(reader, participant_identity),
            f"transcript:{participant_identity}",
        )

    async def _read_transcript(self, reader: rtc.TextStreamReader, identity: str) -> None:
        info = reader.info
        header = info.attributes or {}
        segment_id = header.get(SEGMENT_ID_ATTRIBUTE) or info.stream_id
        track_id = header.get(TRACK_ID_ATTRIBUTE, "")
        text = ""
        try:
            async for chunk in reader:
                text += chunk
                self._emit_segment(identity, segment_id, text, False, track_id)
        except rtc.StreamError as error:
            # Aborted by the sender or cut by a disconnect: keep what arrived, not final.
            logger.debug("transcript stream %s from %s ended: %s", segment_id, identity, error)
            if text:
                self._emit_segment(identity, segment_id, text, False, track_id)
            return
        finally:
            reader.close()  # no-op after a complete read; releases the FFI queue otherwise
        # The trailer's attributes are merged into info.attributes once the stream has ended.
        trailer = reader.info.attributes or {}
        final = trailer.get(FINAL_ATTRIBUTE, "").lower() == "true"
        self._emit_segment(
            identity,
            trailer.get(SEGMENT_ID_ATTRIBUTE) or segment_id,
            text,
            final,
            trailer.get(TRACK_ID_ATTRIBUTE) or track_id,
        )

    def _emit_segment(
        self, identity: str, segment_id: str, text: str, final: bool, track_id: str
    ) -> None:
        self._emit(
            TranscriptSegment(
                room=self.room_name,
                identity=identity,
                segment_id=segment_id,
                text=text,
                final=final,
                track_id=track_id,
            )
        )
