"""The observer's two stream readers: a level meter per subscribed audio track, and the
transcript of each ``lk.transcription`` text stream. Each turns one rtc stream into domain
events for a sink and cleans up its stream however it ends.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

import numpy as np
from livekit import rtc

from agents.constants import TRANSCRIPTION_FINAL_ATTRIBUTE
from tui.core.audio_level import LevelMeter, meter_frame_ms
from tui.core.events import AudioLevel, DomainEvent, TranscriptSegment

logger = logging.getLogger("tui.observer")

SEGMENT_ID_ATTRIBUTE: Final = "lk.segment_id"
TRACK_ID_ATTRIBUTE: Final = "lk.transcribed_track_id"

METER_SAMPLE_RATE: Final = 16_000
"""Frames are resampled to this rate by the SDK; a level meter needs no more, numpy does less."""
METER_QUEUE_S: Final = 0.5
"""Bounded frame queue per track: if the loop stalls longer, old frames are dropped."""


async def read_levels(
    track: rtc.RemoteAudioTrack,
    interval_s: float,
    emit: Callable[[DomainEvent], None],
    *,
    room: str,
    identity: str,
    sid: str,
    frames: Callable[[str, rtc.AudioFrame], None] | None = None,
) -> None:
    """Emit an :class:`AudioLevel` for ``track`` every ``interval_s`` until cancelled.

    ``frames``, when given, also receives ``(identity, frame)`` for every frame read (16 kHz
    mono int16, the meter's own frames: recording costs no second stream).
    """
    frame_ms = meter_frame_ms(interval_s)
    stream = rtc.AudioStream.from_track(
        track=track,
        sample_rate=METER_SAMPLE_RATE,
        num_channels=1,
        # longer frames, fewer wake-ups of the loop (each frame is one cross-thread event)
        frame_size_ms=frame_ms,
        capacity=max(1, round(METER_QUEUE_S * 1000 / frame_ms)),
    )
    meter = LevelMeter(interval_s)
    try:
        async for frame_event in stream:
            if frames is not None:
                try:
                    frames(identity, frame_event.frame)
                except Exception:
                    # a broken recorder must not silence the meter: say so once, stop feeding it
                    logger.exception("audio frame sink failed for %s; no more frames", identity)
                    frames = None
            samples = np.frombuffer(frame_event.frame.data, dtype=np.int16)
            now = time.monotonic()
            level = meter.add(samples, now)
            if level is not None:
                emit(
                    AudioLevel(room=room, identity=identity, rms_dbfs=level, track_sid=sid, at=now)
                )
    finally:
        # Also on cancellation: the stream owns an SDK task and an FFI handle.
        with contextlib.suppress(Exception):
            await stream.aclose()


async def read_transcript(
    reader: rtc.TextStreamReader,
    emit: Callable[[DomainEvent], None],
    *,
    room: str,
    identity: str,
) -> None:
    """Emit the growing text of one transcript stream, then its final state from the trailer."""
    info = reader.info
    header = info.attributes or {}
    segment_id = header.get(SEGMENT_ID_ATTRIBUTE) or info.stream_id
    track_id = header.get(TRACK_ID_ATTRIBUTE, "")

    def segment(segment_id: str, text: str, final: bool, track_id: str) -> None:
        emit(
            TranscriptSegment(
                room=room,
                identity=identity,
                segment_id=segment_id,
                text=text,
                final=final,
                track_id=track_id,
            )
        )

    text = ""
    try:
        async for chunk in reader:
            text += chunk
            segment(segment_id, text, False, track_id)
    except rtc.StreamError as error:
        # Aborted by the sender or cut by a disconnect: keep what arrived, not final.
        logger.debug("transcript stream %s from %s ended: %s", segment_id, identity, error)
        if text:
            segment(segment_id, text, False, track_id)
        return
    finally:
        reader.close()  # no-op after a complete read; releases the FFI queue otherwise
    # The trailer's attributes are merged into info.attributes once the stream has ended.
    trailer = reader.info.attributes or {}
    final = trailer.get(TRANSCRIPTION_FINAL_ATTRIBUTE, "").lower() == "true"
    segment(
        trailer.get(SEGMENT_ID_ATTRIBUTE) or segment_id,
        text,
        final,
        trailer.get(TRACK_ID_ATTRIBUTE) or track_id,
    )
