"""The recorder's writer thread: every file write of a call record happens here, off the loop.

The loop only puts items on a bounded queue (:meth:`RecordWriter.submit` never blocks: when the
writer falls behind, items are dropped and counted). The thread serialises events to
``events.jsonl`` (buffered, flushed at most once a second), derives speaking intervals from the
level events (:mod:`.speech`) and writes each agent's frames to ``<identity>.wav``, filling with
silence where frames never arrived so that the WAV stays on the record's clock (to within
:data:`FILL_AFTER_S`).
"""

from __future__ import annotations

import logging
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from livekit import rtc

from tui.core.events import AudioLevel, ParticipantLeft
from tui.core.record.codec import encode
from tui.core.record.notes import AudioFile, RecordClosed, Speech
from tui.core.record.speech import SpeechDetector, SpeechThresholds
from tui.core.record.store import EVENTS_FILE, safe_name

logger = logging.getLogger("tui.record")

QUEUE_ITEMS: Final = 20_000
"""About 5 minutes of a two-agent call's events and frames: a stall the writer absorbs."""
FLUSH_S: Final = 1.0
POLL_S: Final = 0.05
"""The thread drains the queue this often: no wake-up (and no lock) per item on the loop."""
FILL_AFTER_S: Final = 0.5
"""Frames arriving this much later than the audio written so far means frames were lost (the
observer's frame queue holds 0.5 s): the missing time is written as silence."""


@dataclass(slots=True)
class _Wav:
    file: wave.Wave_write
    name: str
    sample_rate: int
    channels: int
    start: float
    frames: int = 0
    filled_frames: int = 0


class RecordWriter:
    """Owns the run directory's files and the thread writing them."""

    def __init__(
        self,
        run_dir: Path,
        t0: float,
        *,
        max_bytes: int,
        speech: SpeechThresholds | None = None,
        queue_items: int = QUEUE_ITEMS,
    ) -> None:
        self.run_dir = run_dir
        self.t0 = t0
        self.max_bytes = max_bytes
        self.dropped = 0
        self.audio_cut = False
        self.bytes_written = 0
        self.busy_s = 0.0
        """Time the thread spent writing (CPU cost of recording, off the loop)."""
        self._speech = speech
        self._queue: deque[tuple[Any, ...]] = deque()
        self._limit = queue_items
        self._stopping = threading.Event()
        self._closing: tuple[str, str, float] | None = None
        run_dir.mkdir(parents=True, exist_ok=True)
        self._events = (run_dir / EVENTS_FILE).open("w", encoding="utf-8", buffering=1 << 16)
        self._detectors: dict[str, SpeechDetector] = {}
        self._wavs: dict[str, _Wav] = {}
        self._room = ""
        self._last_flush = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="tui.record.writer", daemon=True)
        self._thread.start()

    def submit(self, item: tuple[Any, ...]) -> None:
        """Queue ``("event", event)`` or ``("audio", identity, arrival, frame)``; never blocks.

        ``deque.append`` is atomic: the loop takes no lock and wakes no thread.
        """
        if len(self._queue) >= self._limit:
            self.dropped += 1
        else:
            self._queue.append(item)

    def stop(self, reason: str, ended_at: str, at: float, timeout_s: float = 30.0) -> None:
        """Write everything queued, close the open speech intervals and the WAVs (one
        :class:`AudioFile` each), end with :class:`RecordClosed` and close the files. Blocks
        until done (at most ``timeout_s``)."""
        self._closing = (reason, ended_at, at)
        self._stopping.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.error("call record writer did not finish within %.0f s", timeout_s)

    # -- the thread

    def _run(self) -> None:
        try:
            while True:
                stopping = self._stopping.is_set()
                self._drain()
                if stopping:
                    break
                now = time.monotonic()
                if now - self._last_flush >= FLUSH_S:
                    self._events.flush()
                    self._last_flush = now
                self._stopping.wait(POLL_S)
        finally:
            started = time.perf_counter()
            self._finish(self._closing or ("writer stopped", "", time.monotonic()))
            self.busy_s += time.perf_counter() - started

    def _drain(self) -> None:
        started = time.perf_counter()
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            try:
                if item[0] == "event":
                    self._event(item[1])
                else:
                    self._audio(item[1], item[2], item[3])
            except Exception:
                logger.exception("call record writer failed on %s", item[0])
        self.busy_s += time.perf_counter() - started

    def _write(self, event: Any) -> None:
        line = encode(event, self.t0) + "\n"
        self._events.write(line)
        self.bytes_written += len(line)

    def _event(self, event: Any) -> None:
        self._room = getattr(event, "room", self._room) or self._room
        self._write(event)
        if isinstance(event, AudioLevel):
            detector = self._detectors.get(event.identity)
            if detector is None:
                detector = self._detectors[event.identity] = SpeechDetector(self._speech)
            self._speech_closed(event.identity, detector.add(event.rms_dbfs, event.at), event.at)
        elif isinstance(event, ParticipantLeft) and event.identity in self._detectors:
            self._speech_closed(event.identity, self._detectors[event.identity].flush(), event.at)

    def _speech_closed(
        self, identity: str, interval: tuple[float, float] | None, at: float
    ) -> None:
        if interval is not None:
            self._write(Speech(self._room, identity, interval[0], interval[1], at=at))

    def _audio(self, identity: str, arrival: float, frame: rtc.AudioFrame) -> None:
        if self.audio_cut:
            return
        if self.bytes_written >= self.max_bytes:
            self.audio_cut = True
            logger.warning("call record %s reached its size limit: audio stops", self.run_dir)
            return
        wav = self._wavs.get(identity)
        rate, channels = frame.sample_rate, frame.num_channels
        if wav is None:
            wav = self._open_wav(identity, rate, channels, arrival - frame.duration)
        elif (rate, channels) != (wav.sample_rate, wav.channels):
            self.dropped += 1  # the meter asks for one format; another one is not ours
            return
        written_until = wav.start + wav.frames / rate
        late = arrival - frame.duration - written_until
        if late > FILL_AFTER_S:
            missing = round(late * rate)
            self._write_frames(wav, bytes(missing * 2 * channels), missing)
            wav.filled_frames += missing
        self._write_frames(wav, frame.data.cast("B"), frame.samples_per_channel)

    def _open_wav(self, identity: str, rate: int, channels: int, start: float) -> _Wav:
        name = self._wav_name(identity)
        file = wave.open(str(self.run_dir / name), "wb")  # noqa: SIM115 (closed in _finish)
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        wav = self._wavs[identity] = _Wav(file, name, rate, channels, start)
        return wav

    def _wav_name(self, identity: str) -> str:
        base = safe_name(identity, "participant")
        taken = {wav.name for wav in self._wavs.values()} | {EVENTS_FILE}
        name, number = f"{base}.wav", 1
        while name in taken:
            number += 1
            name = f"{base}.{number}.wav"
        return name

    def _write_frames(self, wav: _Wav, data: Any, frames: int) -> None:
        wav.file.writeframesraw(data)
        wav.frames += frames
        self.bytes_written += frames * 2 * wav.channels

    def _finish(self, closing: tuple[str, str, float]) -> None:
        try:
            for identity, detector in self._detectors.items():
                self._speech_closed(identity, detector.flush(), time.monotonic())
            for identity, wav in self._wavs.items():
                wav.file.close()  # patches the header with the real length
                seconds = wav.frames / wav.sample_rate
                self._write(
                    AudioFile(
                        self._room,
                        identity,
                        wav.name,
                        start=wav.start,
                        sample_rate=wav.sample_rate,
                        seconds=seconds,
                        filled_s=wav.filled_frames / wav.sample_rate,
                    )
                )
            reason, ended_at, at = closing
            self._write(
                RecordClosed(
                    self._room, reason, ended_at, self.dropped, audio_cut=self.audio_cut, at=at
                )
            )
        finally:
            self._events.close()
