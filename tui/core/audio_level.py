"""RMS level metering of PCM audio, throttled to a fixed reporting interval.

Kept apart from the observer so the arithmetic is testable without a room. ``rtc.AudioStream``
delivers 10 ms frames unless asked for longer ones (:func:`meter_frame_ms`); the dashboard needs a
few level updates per second, so :class:`LevelMeter` accumulates energy over an interval and
reports one value per interval. The RMS over the whole interval (not the last frame) is what a
meter should show: a single loud frame in a silent interval is not "sound".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

SILENCE_DBFS = -100.0
"""Floor reported for digital silence (the log of zero energy is minus infinity)."""

SOUND_THRESHOLD_DBFS = -50.0
"""Above this an interval counts as audible sound (speech is typically -30..-10 dBFS)."""

_INT16_FULL_SCALE = 32768.0

MAX_FRAME_MS = 100
"""Longest frame a meter asks for: 10 frames a second per track instead of the SDK's 100."""
MIN_FRAME_MS = 10
"""The SDK's native frame: what a meter reporting more often than every 20 ms needs."""


def meter_frame_ms(interval_s: float) -> int:
    """Frame length for a meter reporting every ``interval_s``: at least two frames per interval.

    Every frame is one event handed from the SDK's thread to the asyncio loop, and the meter only
    needs the energy per interval; longer frames cost the same numpy work in fewer wake-ups.
    A report can come up to one frame late, so the frame stays short next to the interval.
    """
    half_ms = int(interval_s * 1000 / 2) // MIN_FRAME_MS * MIN_FRAME_MS
    return max(MIN_FRAME_MS, min(MAX_FRAME_MS, half_ms))


def dbfs_from_mean_square(mean_square: float) -> float:
    """Level in dBFS of a mean square of samples normalised to [-1, 1], floored at silence."""
    if mean_square <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(mean_square))


def rms_dbfs(samples: npt.NDArray[Any]) -> float:
    """RMS level of int16 PCM (or floats in [-1, 1]) in dBFS; a full-scale sine is about -3."""
    if samples.size == 0:
        return SILENCE_DBFS
    values = samples.astype(np.float64)
    if samples.dtype == np.int16:
        values /= _INT16_FULL_SCALE
    return dbfs_from_mean_square(float(np.mean(values * values)))


class LevelMeter:
    """Accumulates int16 frames and yields one RMS dBFS value per ``interval_s``.

    Not thread-safe; one meter per audio track, fed from one task.
    """

    __slots__ = ("_count", "_interval_s", "_started_at", "_sum_squares")

    def __init__(self, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self._interval_s = interval_s
        self._sum_squares = 0.0
        self._count = 0
        self._started_at: float | None = None

    @property
    def interval_s(self) -> float:
        return self._interval_s

    def add(self, pcm: npt.NDArray[np.int16], now: float) -> float | None:
        """Add one frame of samples received at ``now``; return a level when an interval ends."""
        if self._started_at is None:
            self._started_at = now
        if pcm.size:
            values = pcm.reshape(-1).astype(np.float64) / _INT16_FULL_SCALE
            self._sum_squares += float(np.dot(values, values))
            self._count += int(pcm.size)
        if now - self._started_at < self._interval_s:
            return None
        level = dbfs_from_mean_square(self._sum_squares / self._count if self._count else 0.0)
        self._sum_squares, self._count, self._started_at = 0.0, 0, now
        return level
