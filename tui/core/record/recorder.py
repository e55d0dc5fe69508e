"""CallRecorder: what the dashboard, ``doctor`` and tests attach to an observed room.

Feed it the observer's domain events (:meth:`CallRecorder.apply`, the observer's sink or a tee of
it) and audio frames (:meth:`CallRecorder.audio`, the observer's ``audio_sink``), and optionally
troubleshooting findings and worker-log errors. Each call costs the loop a queue put: the
writer thread (:mod:`.writer`) does the rest. :meth:`CallRecorder.close` (blocking: from a loop
use ``await asyncio.to_thread(recorder.close)``) finishes the files and writes ``report.json``.

    store = RunStore()
    recorder = CallRecorder.start(store, room, scenario="HDX-2478")
    observer = RoomObserver(url, token, room, tee(sink, recorder.apply),
                            audio_sink=recorder.audio)
    ...
    run_dir = recorder.close("observer closed")
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livekit import rtc

from tui.core.diagnostics.check import Check
from tui.core.record.analytics import TurnThresholds
from tui.core.record.notes import Finding, LogError, RecordStarted
from tui.core.record.report_json import build_report, load_events
from tui.core.record.speech import SpeechThresholds
from tui.core.record.store import REPORT_FILE, Retention, RunStore, dir_bytes
from tui.core.record.writer import RecordWriter

logger = logging.getLogger("tui.record")


def iso_utc(moment: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds: ``2025-01-31T12:00:00.123Z``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tee(*sinks: Callable[[Any], None]) -> Callable[[Any], None]:
    """One sink calling each of ``sinks`` in turn (the observer takes one)."""

    def sink(event: Any) -> None:
        for each in sinks:
            each(event)

    return sink


class CallRecorder:
    """Records one observed room into ``run_dir``; see the module docstring."""

    def __init__(
        self,
        run_dir: Path,
        room: str,
        *,
        scenario: str = "",
        max_bytes: int = Retention().max_bytes,
        speech: SpeechThresholds | None = None,
        turns: TurnThresholds | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.room = room
        self.t0 = time.monotonic()
        self._turns = turns
        self._closed = False
        self.apply_s = 0.0
        """Time spent in :meth:`apply` and :meth:`audio` on the caller's thread (the loop)."""
        self._writer = RecordWriter(run_dir, self.t0, max_bytes=max_bytes, speech=speech)
        self._writer.submit(
            ("event", RecordStarted(room, scenario, iso_utc(), at=self.t0)),
        )

    @classmethod
    def start(cls, store: RunStore, room: str, **options: Any) -> CallRecorder:
        """A recorder in a new run directory of ``store`` (after applying its retention)."""
        return cls(store.new_run(room), room, max_bytes=store.retention.max_bytes, **options)

    @property
    def dropped(self) -> int:
        """Items the writer could not keep up with (0 on a healthy machine)."""
        return self._writer.dropped

    @property
    def writer_busy_s(self) -> float:
        """Time the writer thread has spent writing."""
        return self._writer.busy_s

    def apply(self, event: Any) -> None:
        """Record a domain event (any :mod:`tui.core.events` value, or a :mod:`.notes` one)."""
        if self._closed:
            return
        started = time.perf_counter()
        self._writer.submit(("event", event))
        self.apply_s += time.perf_counter() - started

    def audio(self, identity: str, frame: rtc.AudioFrame) -> None:
        """Record one received audio frame of ``identity`` (the observer's ``audio_sink``)."""
        if self._closed:
            return
        started = time.perf_counter()
        self._writer.submit(("audio", identity, time.monotonic(), frame))
        self.apply_s += time.perf_counter() - started

    def finding(self, check: Check, at: float | None = None) -> None:
        """Record a troubleshooting check's result (call it when a check's status changes)."""
        self.apply(
            Finding(
                self.room,
                check.id,
                check.title,
                check.status,
                check.finding,
                check.fix,
                at=time.monotonic() if at is None else at,
            )
        )

    def log_error(self, logger_name: str, message: str, at: float | None = None) -> None:
        """Record an error line of the worker log."""
        self.apply(
            LogError(self.room, logger_name, message, at=time.monotonic() if at is None else at)
        )

    def close(self, reason: str = "recording stopped") -> Path:
        """Finish the record and write ``report.json``; return the run directory. Blocks
        (writes the files), idempotent."""
        if self._closed:
            return self.run_dir
        self._closed = True
        self._writer.stop(reason, iso_utc(), time.monotonic())
        try:
            report = build_report(load_events(self.run_dir), self._turns)
        except Exception:
            logger.exception("could not build the report of %s", self.run_dir)
            raise
        report["recording"]["loop_s"] = round(self.apply_s, 4)
        report["recording"]["writer_s"] = round(self._writer.busy_s, 4)
        report["recording"]["bytes"] = dir_bytes(self.run_dir)
        path = self.run_dir / REPORT_FILE
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return self.run_dir
