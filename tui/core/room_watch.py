"""One room watch: the hidden observer of the watched room, and the control plane polled around it.

Everything the dashboard, ``doctor`` and the fault tests know about a room comes from here as
events into one sink (usually :meth:`tui.core.room_model.RoomModel.apply`):

- the observer's room events (joins, tracks, levels, transcripts, the agents' session events);
- every ``poll_interval_s``: the server's rooms (:class:`RoomsListed`), the watched room's
  creation time (:class:`RoomCreated`), dispatches (:class:`DispatchesListed`) and jobs
  (:class:`JobsListed`), and whether the control plane answered (:class:`ControlPlaneAnswered`);
  one other room's jobs per poll, so a room list can name the worker of every room;
- the worker log's errors, when a :class:`~tui.core.log_errors.LogErrorCounter` is given.

With a :class:`~tui.core.record.store.RunStore` every watched room is also recorded (events,
audio per agent, findings noted with :meth:`RoomWatch.note_checks`) from the moment the watch
joins it until it leaves; :class:`RecordingStarted`/:class:`RecordingFinished` say where.

The sink is called on the watch's event loop (observer events too). ``aclose()`` stops the
poll task, leaves the room and finishes its record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from agents.tokens import OBSERVER_IDENTITY, observer_token
from tui.core.control_plane import ControlPlane, ControlPlaneError
from tui.core.control_plane_jobs import RoomWorkers
from tui.core.diagnostics import Check
from tui.core.events import DOMAIN_EVENT_TYPES, JobsListed, WatchEvent
from tui.core.infra_events import (
    ControlPlaneAnswered,
    DispatchesListed,
    ListedDispatch,
    RecordingFinished,
    RecordingStarted,
    RoomCreated,
    RoomsListed,
    WorkerLogErrors,
)
from tui.core.log_errors import LogErrorCounter
from tui.core.observer import RoomObserver
from tui.core.record.recorder import CallRecorder
from tui.core.record.store import RunStore
from tui.core.settings import LiveKitSettings

logger = logging.getLogger("tui.watch")

WatchSink = Callable[[WatchEvent], object]


class RoomWatch:
    """Watches one room at a time (:meth:`watch`) and polls the control plane around it."""

    def __init__(
        self,
        settings: LiveKitSettings,
        control: ControlPlane,
        sink: WatchSink,
        *,
        poll_interval_s: float = 2.0,
        observer_identity: str = OBSERVER_IDENTITY,
        level_interval_s: float = 0.1,
        log_errors: LogErrorCounter | None = None,
        record: RunStore | None = None,
    ) -> None:
        self._settings = settings
        self._control = control
        self._sink = sink
        self._poll_interval_s = poll_interval_s
        self._observer_identity = observer_identity
        """A second watcher of a room needs its own identity (a participant with the same
        identity would disconnect the first)."""
        self._level_interval_s = level_interval_s
        self._log_errors = log_errors
        self._observer: RoomObserver | None = None
        self._switch_lock = asyncio.Lock()
        self._poll_task: asyncio.Task[None] | None = None
        self._poll_lock = asyncio.Lock()
        self._lookups = RoomWorkers()
        self._store = record
        self._recorder: CallRecorder | None = None
        self._noted: dict[str, str] = {}
        """Check id -> status last recorded as a finding of the watched room."""
        self.room: str | None = None
        """The watched room (None: none)."""

    @property
    def recorder(self) -> CallRecorder | None:
        """The watched room's recorder (None: not recording)."""
        return self._recorder

    def _emit(self, event: WatchEvent) -> None:
        self._sink(event)
        recorder = self._recorder
        if recorder is None:
            return
        if (
            (isinstance(event, DOMAIN_EVENT_TYPES) and event.room == recorder.room)
            or isinstance(event, WorkerLogErrors)
            or (isinstance(event, DispatchesListed) and event.room == recorder.room)
        ):
            recorder.apply(event)

    def note_checks(self, checks: list[Check]) -> None:
        """Record each check of the watched room whose status changed since the last call."""
        recorder = self._recorder
        if recorder is None:
            return
        for check in checks:
            if self._noted.get(check.id) != check.status:
                self._noted[check.id] = check.status
                recorder.finding(check)

    @property
    def observer(self) -> RoomObserver | None:
        """The observer of the watched room, once it joined (None: none)."""
        return self._observer

    def start(self) -> None:
        """Start polling (call on the loop that will run the watch)."""
        if self._poll_task is None:
            self._poll_task = asyncio.create_task(self._poll_forever(), name="room watch poll")

    async def watch(self, room: str | None) -> None:
        """Switch the hidden observer to ``room`` (None: watch nothing) and poll it at once.

        Raises :class:`~tui.core.observer.ObserverError` when the observer cannot join (also
        reported to the sink as an ``ObserverStatus`` "failed").
        """
        async with self._switch_lock:
            previous, self._observer = self._observer, None
            if previous is not None:
                await previous.aclose()
            await self._finish_record()
            self.room = room
            if room is None:
                return
            audio_sink = None
            if self._store is not None:
                self._recorder = await asyncio.to_thread(CallRecorder.start, self._store, room)
                self._noted = {}
                audio_sink = self._recorder.audio
                self._sink(RecordingStarted(room, str(self._recorder.run_dir)))
            settings = self._settings
            token = observer_token(
                settings.api_key, settings.api_secret, room, identity=self._observer_identity
            )
            observer = RoomObserver(
                settings.url,
                token,
                room,
                self._emit,
                level_interval_s=self._level_interval_s,
                audio_sink=audio_sink,
            )
            self._observer = observer
            try:
                await observer.start()
            except BaseException:
                # Cancelled by a newer switch, or failed: never leave a half-joined observer.
                self._observer = None
                await observer.aclose()
                await self._finish_record()
                raise
        if self._poll_task is not None:
            await self.poll()

    async def _finish_record(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        try:
            run_dir = await asyncio.to_thread(recorder.close, "observer left")
        except Exception as error:  # a record that cannot be finished must not stop the watch
            logger.exception("record of %s not finished", recorder.room)
            self._sink(RecordingFinished(recorder.room, str(recorder.run_dir), str(error)))
            return
        logger.info("record of %s: %s", recorder.room, run_dir)
        self._sink(RecordingFinished(recorder.room, str(run_dir)))

    async def poll(self) -> None:
        """List rooms, the watched room's dispatches and jobs, and one other room's jobs."""
        async with self._poll_lock:
            try:
                await self._poll_once()
            except ControlPlaneError as error:
                failed = ControlPlaneAnswered(False, error.kind, str(error), room=self.room or "")
                self._emit(failed)
            if self._log_errors is not None and (errors := self._log_errors.take()) is not None:
                self._emit(errors)

    async def _poll_once(self) -> None:
        rooms = await self._control.list_rooms()
        self._emit(ControlPlaneAnswered(True))
        self._emit(RoomsListed(tuple(rooms)))
        room = self.room
        listed = next((summary for summary in rooms if summary.name == room), None)
        if room is not None and listed is not None:
            self._emit(RoomCreated(room, listed.created_at, datetime.now(UTC)))
            dispatches, jobs = await self._control.list_jobs(room)
            at = time.monotonic()
            listed_dispatches = tuple(
                ListedDispatch(d.dispatch_id, d.agent_name, d.num_jobs) for d in dispatches
            )
            self._emit(DispatchesListed(room, listed_dispatches, at=at))
            self._emit(JobsListed(room, tuple(jobs), at=at))
        await self._look_up_another_room([summary.name for summary in rooms])

    async def _look_up_another_room(self, names: list[str]) -> None:
        """One other room's jobs per poll until its worker is known (for the room list)."""
        self._lookups.keep_only(names)
        other = self._lookups.next_lookup(names, self.room or "", time.monotonic())
        if other is None:
            return
        # cosmetic: a room closing meanwhile is not worth an error
        with contextlib.suppress(ControlPlaneError):
            _, jobs = await self._control.list_jobs(other)
            self._lookups.learn(other, jobs)
            self._emit(JobsListed(other, tuple(jobs)))

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # a bug in one poll must not end the watch
                logger.exception("room watch poll failed")
            await asyncio.sleep(self._poll_interval_s)

    async def aclose(self) -> None:
        """Stop polling and leave the room; idempotent."""
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.watch(None)
