"""Who is speaking, from the audio itself: speaking intervals from received audio levels.

The server's active-speaker updates lag the audio by a few hundred milliseconds; the observer's
level meter reports each agent's RMS level every 0.1 s as it is received. A
:class:`SpeechDetector` turns that stream into intervals with hysteresis, so the short gaps
between words do not split a turn:

- speech starts at the first level at or above :attr:`SpeechThresholds.on_dbfs` (-45 dBFS;
  speech is -30..-10 dBFS, a silent track -100);
- it goes on while levels stay at or above :attr:`SpeechThresholds.off_dbfs` (-55 dBFS, the
  lower threshold of the hysteresis), and across quieter stretches shorter than
  :attr:`SpeechThresholds.hangover_s` (0.6 s: espeak-ng and TTS voices pause 0.1-0.4 s
  between words and clauses);
- it ends at the last level at or above ``off_dbfs``; an interval shorter than
  :attr:`SpeechThresholds.min_speech_s` (0.15 s, a click) is dropped.

A level covers the window since the previous one (0.1 s): the sound began or ended somewhere in
it, so both ends of an interval are dated at the middle of their window (at most half a window
off, unbiased; dating by window edges would make every response gap 0.1-0.2 s too short).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_WINDOW_S: Final = 0.1
"""The observer's metering interval, assumed for the first level of a track."""


@dataclass(frozen=True, slots=True)
class SpeechThresholds:
    """The hysteresis of :class:`SpeechDetector` (see the module docstring)."""

    on_dbfs: float = -45.0
    off_dbfs: float = -55.0
    hangover_s: float = 0.6
    min_speech_s: float = 0.15


class SpeechDetector:
    """Speaking intervals of one participant from its level reports, in time order."""

    __slots__ = ("_end", "_last_at", "_start", "thresholds")

    def __init__(self, thresholds: SpeechThresholds | None = None) -> None:
        self.thresholds = thresholds or SpeechThresholds()
        self._last_at: float | None = None
        self._start: float | None = None
        self._end: float | None = None

    @property
    def speaking_since(self) -> float | None:
        """Start of the interval in progress, None while silent."""
        return self._start

    @property
    def speaking_until(self) -> float | None:
        """End of the interval in progress so far (its last audible level), None while silent."""
        return self._end

    def add(self, level_dbfs: float, at: float) -> tuple[float, float] | None:
        """Feed one level measured over the window ending at ``at``; return an interval that
        this level closed, if any."""
        t = self.thresholds
        previous, self._last_at = self._last_at, at
        # no level for a while (a stall, a new track): the gap is silence, not speech
        stalled = previous is None or at - previous > t.hangover_s
        window_start = at - DEFAULT_WINDOW_S if stalled or previous is None else previous
        middle = (window_start + at) / 2
        closed = None
        if self._start is not None and self._end is not None:
            if level_dbfs >= t.off_dbfs and not stalled:
                self._end = middle
                return None
            if at - self._end < t.hangover_s:
                return None
            closed = self._close()
        if level_dbfs >= t.on_dbfs:
            self._start = self._end = middle
        return closed

    def flush(self) -> tuple[float, float] | None:
        """Close the interval in progress (the track ended or the recording stops)."""
        return self._close() if self._start is not None else None

    def _close(self) -> tuple[float, float] | None:
        start, end = self._start, self._end
        self._start = self._end = None
        if start is None or end is None or end - start < self.thresholds.min_speech_s:
            return None
        return (start, end)


def detect(
    levels: list[tuple[float, float]], thresholds: SpeechThresholds | None = None
) -> list[tuple[float, float]]:
    """Every speaking interval of ``(at, level_dbfs)`` reports of one participant."""
    detector = SpeechDetector(thresholds)
    intervals = [
        interval
        for at, level in sorted(levels)
        if (interval := detector.add(level, at)) is not None
    ]
    last = detector.flush()
    return [*intervals, last] if last is not None else intervals
