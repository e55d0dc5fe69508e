"""A recorded call, read back to be played again: its events, checked, and re-timed.

:func:`load_recording` checks a run directory as ``dispatch-tui report`` does
(:func:`~.run_dir.load_run`) and reads every event of its ``events.jsonl`` with the codec; any
problem is one :class:`~.run_dir.RunDirError` line. The events are on the record's clock (0 =
recording start); :func:`retime` moves one onto the monotonic clock of the replaying process,
so the dashboard's one reducer (:class:`~tui.core.room_model.RoomModel`) applies them exactly
as it applies a live room's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.record.codec import RecordError, clock_fields, read_events
from tui.core.record.notes import RecordClosed, RecordStarted
from tui.core.record.run_dir import Run, RunDirError, load_run
from tui.core.record.store import EVENTS_FILE


@dataclass(frozen=True, slots=True)
class Recording:
    """A checked run directory and its events (record clock)."""

    run: Run
    room: str
    scenario: str
    events: tuple[Any, ...]

    @property
    def duration_s(self) -> float:
        """From the recording's start to its last event."""
        return max((event.at for event in self.events), default=0.0)

    @property
    def complete(self) -> bool:
        """The recorder closed the record (its last line)."""
        return isinstance(self.events[-1], RecordClosed)


def load_recording(path: Path) -> Recording:
    """Read and check ``path``; :class:`RunDirError` (one line) when it cannot be replayed."""
    run = load_run(path)
    events_path = path / EVENTS_FILE
    if not events_path.is_file():
        raise RunDirError(f"{events_path}: missing; record the call again")
    try:
        events = tuple(read_events(events_path))
    except RecordError as exc:
        raise RunDirError(f"{exc}; record the call again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{events_path}: unreadable ({exc}); record the call again") from None
    if not events or not isinstance(events[0], RecordStarted):
        raise RunDirError(
            f"{events_path}: does not start with RecordStarted (not a call record); "
            "pass a run directory written by dispatch-tui"
        )
    return Recording(run, events[0].room, events[0].scenario, events)


def retime(event: Any, offset: float) -> Any:
    """``event`` with every clock field moved by ``offset`` seconds (record clock ->
    monotonic clock: ``offset`` is the monotonic time of the recording's start)."""
    fields = clock_fields(type(event))  # type: ignore[arg-type]  # classes are hashable
    return dataclasses.replace(event, **{name: getattr(event, name) + offset for name in fields})
