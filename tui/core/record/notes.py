"""Record-only events: what a call record holds besides the observer's domain events.

They are frozen dataclasses like :mod:`tui.core.events` (same ``at`` clock, same codec), so a
record is one stream of events. Fields carrying a :func:`time.monotonic` time other than ``at``
are marked with ``metadata={"clock": True}``: the codec stores every clock field as seconds since
the recording started.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

CLOCK: dict[str, bool] = {"clock": True}
"""Field metadata of a monotonic time other than ``at``."""


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class RecordStarted:
    """The first line of a record: what is recorded, and the wall clock of its start."""

    room: str
    scenario: str
    started_at: str
    """ISO 8601 UTC wall-clock time of the recording start (``at`` 0 of the record)."""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class Speech:
    """One interval during which ``identity`` was audible, derived from its received audio."""

    room: str
    identity: str
    start: float = field(metadata=CLOCK)
    end: float = field(metadata=CLOCK)
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class Finding:
    """A troubleshooting check's result as it changed (see :mod:`tui.core.diagnostics`)."""

    room: str
    check_id: str
    title: str
    status: str
    finding: str
    fix: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class LogError:
    """An error (or worse) from the worker log."""

    room: str
    logger: str
    message: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class AudioFile:
    """Where one agent's audio is: ``file`` in the run directory, whose first sample was
    received at ``start``; ``filled_s`` of silence stand for frames that never arrived."""

    room: str
    identity: str
    file: str
    start: float = field(metadata=CLOCK)
    sample_rate: int = 16_000
    seconds: float = 0.0
    filled_s: float = 0.0
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RecordClosed:
    """The last line of a complete record."""

    room: str
    reason: str
    ended_at: str
    """ISO 8601 UTC wall-clock time the recording stopped."""
    dropped: int = 0
    """Events and frames dropped because the writer fell behind (0 on a healthy machine)."""
    audio_cut: bool = False
    """The run reached its size limit and audio stopped being written."""
    at: float = field(default_factory=_now)


RecordNote = RecordStarted | Speech | Finding | LogError | AudioFile | RecordClosed
RECORD_NOTE_TYPES: tuple[type, ...] = (
    RecordStarted,
    Speech,
    Finding,
    LogError,
    AudioFile,
    RecordClosed,
)
