"""livekit.rtc values in words, and the server's join time on our clock: what the observer
reports is readable (``microphone``, ``excellent``) and dated consistently."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from livekit import rtc

MAX_ANNOUNCE_DELAY_S: Final = 5.0
"""At most this much earlier than its announcement is a live join dated (see server_join_time)."""


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    """``SOURCE_MICROPHONE`` -> ``microphone``; unknown values keep their number."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower()


def kind_name(kind: int) -> str:
    """``PARTICIPANT_KIND_AGENT`` -> ``agent``."""
    return _enum_name(rtc.ParticipantKind, kind, "PARTICIPANT_KIND_")


def source_name(source: int) -> str:
    """``SOURCE_MICROPHONE`` -> ``microphone``."""
    return _enum_name(rtc.TrackSource, source, "SOURCE_")


def track_kind_name(kind: int) -> str:
    """``KIND_AUDIO`` -> ``audio``."""
    return _enum_name(rtc.TrackKind, kind, "KIND_")


def quality_name(quality: int) -> str:
    """``QUALITY_EXCELLENT`` -> ``excellent``."""
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
    """``CLIENT_INITIATED`` -> ``client_initiated``; "" for no reason."""
    if reason is None:
        return ""
    return _enum_name(rtc.DisconnectReason, reason, "")
