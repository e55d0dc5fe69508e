"""One call of ``dispatch-tui run``: create the room, watch and record it until the call is
over, and turn what is left into a :class:`~tui.core.run_plan.CallOutcome`.

The room is watched by its own :class:`~tui.core.room_watch.RoomWatch` (a hidden observer with
an identity of its own, the control plane polled for the dispatch checks) recording into the
run's :class:`~tui.core.record.store.RunStore`. Its events feed a
:class:`~tui.core.room_model.RoomModel`, whose troubleshooting checks are noted in the record
while the call is on, so the record's findings are the dashboard's; and a
:class:`CallTracker`, which knows when the call is over:

- the worker's ``conversation_ended`` session event, then every agent gone (or
  ``settle_s`` later: the record is complete either way);
- every agent that joined has left (the record says why);
- no agent joined within ``join_timeout_s`` (no worker took the job), or the call outlived
  its scenario's duration: an error, with the record kept.

Checks stop being noted at the end of the conversation: an agent that leaves after it is no
finding. Whatever fails is an outcome with a one-line error, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agents.constants import AGENT_NAME
from tui.core.backend import OBSERVER_LEVEL_INTERVAL_S
from tui.core.contracts import judge_call
from tui.core.control_plane import SECONDS_PER_TURN, ControlPlane, ControlPlaneError
from tui.core.events import (
    ParticipantJoined,
    ParticipantLeft,
    SessionEvent,
    WatchEvent,
)
from tui.core.infra_events import RecordingFinished, RecordingStarted
from tui.core.observer import ObserverError
from tui.core.record.store import REPORT_FILE, RunStore
from tui.core.room_model import RoomModel
from tui.core.room_watch import RoomWatch
from tui.core.run_plan import CallOutcome, PlannedCall
from tui.core.run_progress import RunProgress
from tui.core.settings import LiveKitSettings

OBSERVER_PREFIX: Final = "dispatch-tui-run-"
"""Each call's observer is ``dispatch-tui-run-<random>``: never the dashboard's identity."""
WATCH_POLL_S: Final = 2.0
"""How often each call's watch lists the room's dispatches (for the dispatch checks)."""


@dataclass(frozen=True)
class CallLimits:
    """How long a call may take at each stage (seconds)."""

    join_timeout_s: float = 30.0
    """From the room's creation to the first agent: longer means no worker took the job."""
    settle_s: float = 15.0
    """From the end of the conversation to every agent gone (the worker waits up to 5 s for
    its last lines to be delivered, then 1 s more)."""
    margin_s: float = 30.0
    """Added to the scenario's ``max_duration_s`` (else 20 s a turn) before a call that is
    still going counts as stuck."""
    check_interval_s: float = 0.5
    """How often the checks are evaluated and noted in the record."""

    def call_limit_s(self, call: PlannedCall) -> float:
        """How long after the first agent joined the call may still be going."""
        scenario = call.scenario
        allowed = scenario.expect.max_duration_s if scenario.expect is not None else None
        return (allowed or SECONDS_PER_TURN * scenario.max_turns) + self.margin_s


def call_label(call: PlannedCall) -> str:
    """``HDX-2478 #2``: a call as the progress lines name it."""
    return f"{call.scenario.load_id} #{call.index}"


@dataclass
class CallTracker:
    """Where one call stands, from its watch's events (pure: no clock, no IO)."""

    room: str
    joined: dict[str, float] = field(default_factory=dict)
    """Agent identity -> when it (last) joined."""
    left: dict[str, float] = field(default_factory=dict)
    ended_at: float | None = None
    ended_reason: str = ""
    turns: int = 0
    run_dir: str | None = None
    record_error: str = ""

    def apply(self, event: WatchEvent) -> bool:
        """Note one event; True when the call's phase or turn count may have changed."""
        if isinstance(event, RecordingStarted | RecordingFinished):
            if event.room == self.room:
                self.run_dir = event.run_dir
                if isinstance(event, RecordingFinished):
                    self.record_error = event.error
            return False
        if getattr(event, "room", None) != self.room:
            return False
        if isinstance(event, ParticipantJoined) and event.kind == "agent":
            self.joined[event.identity] = event.at
            self.left.pop(event.identity, None)
            return True
        if isinstance(event, ParticipantLeft) and event.identity in self.joined:
            self.left[event.identity] = event.at
            return True
        if isinstance(event, SessionEvent):
            if event.kind == "turn":
                self.turns += 1
                return True
            if event.kind == "conversation_ended" and self.ended_at is None:
                self.ended_at = event.at
                self.ended_reason = str(event.payload.get("reason") or "ended")
                return True
        return False

    @property
    def first_join(self) -> float | None:
        return min(self.joined.values(), default=None)

    @property
    def everyone_left(self) -> bool:
        """Every agent that joined has left (False before any joined)."""
        return bool(self.joined) and self.left.keys() >= self.joined.keys()

    @property
    def anyone_left(self) -> bool:
        return bool(self.left)

    def over(self, now: float, settle_s: float) -> bool:
        """The call is over and its record complete (see the module docstring)."""
        if self.everyone_left:
            return True
        return self.ended_at is not None and now - self.ended_at >= settle_s

    def phase(self) -> tuple[str, str]:
        """(phase, detail) for the progress line."""
        if self.ended_at is not None:
            return "ending", self.ended_reason
        if not self.joined:
            return "waiting for agents", ""
        if self.everyone_left:
            return "agents left", ""
        return "talking", f"turn {self.turns}" if self.turns else ""


@dataclass
class CallContext:
    """What every call of a run shares: the server, its control plane, the record store,
    how a call's model starts, the limits and the progress display."""

    settings: LiveKitSettings
    control: ControlPlane
    store: RunStore
    new_model: Callable[[str], RoomModel]
    """A room's model, already told the server, worker and voice status (``room`` -> model)."""
    drop_model: Callable[[RoomModel], None]
    progress: RunProgress
    limits: CallLimits = field(default_factory=CallLimits)
    worker_elsewhere: bool = False
    """No in-process worker: the error for an unanswered dispatch says so."""


async def place_call(call: PlannedCall, ctx: CallContext) -> CallOutcome:
    """Place, watch and record one call; never raises (but for cancellation)."""
    label = call_label(call)
    ctx.progress.state(label, "creating room")
    try:
        created = await ctx.control.create_room(call.scenario, watched=True)
    except ControlPlaneError as exc:
        outcome = CallOutcome(call, None, None, f"room not created: {exc}")
        ctx.progress.finished(label, f"error: {outcome.error}")
        return outcome
    room, created_at = created.name, time.monotonic()
    tracker = CallTracker(room)
    changed = asyncio.Event()
    model = ctx.new_model(room)

    def sink(event: WatchEvent) -> None:
        model.apply(event)
        if tracker.apply(event):
            changed.set()

    watch = RoomWatch(
        ctx.settings,
        ctx.control,
        sink,
        poll_interval_s=WATCH_POLL_S,
        observer_identity=f"{OBSERVER_PREFIX}{secrets.token_hex(4)}",
        level_interval_s=OBSERVER_LEVEL_INTERVAL_S,
        record=ctx.store,
    )
    error: str | None = None
    try:
        ctx.progress.state(label, "waiting for agents")
        watch.start()
        try:
            await watch.watch(room)
        except ObserverError as exc:
            error = f"the observer could not join {room}: {exc}"
        else:
            error = await _until_over(call, tracker, model, watch, changed, ctx, created_at)
    finally:
        await watch.aclose()  # leaves the room and writes report.json
        ctx.drop_model(model)
        with contextlib.suppress(ControlPlaneError):
            await ctx.control.delete_room(room)
    outcome = _outcome(call, tracker, error)
    ctx.progress.finished(label, _finished_text(outcome, tracker))
    return outcome


async def _until_over(
    call: PlannedCall,
    tracker: CallTracker,
    model: RoomModel,
    watch: RoomWatch,
    changed: asyncio.Event,
    ctx: CallContext,
    created_at: float,
) -> str | None:
    """Wait until the call is over; the error that ended the wait early, or None."""
    limits, label = ctx.limits, call_label(call)
    limit_s = limits.call_limit_s(call)
    noting = True
    while True:
        now = time.monotonic()
        # Findings are the checks while the call is on, noted one last time when it ends: an
        # agent leaving after the end of the conversation is how a call ends, not a finding.
        if noting and (tracker.ended_at is None or not tracker.anyone_left):
            watch.note_checks(model.evaluate(now))
        noting = tracker.ended_at is None
        ctx.progress.state(label, *tracker.phase())
        if tracker.over(now, limits.settle_s):
            return None
        first = tracker.first_join
        if first is None and now - created_at >= limits.join_timeout_s:
            return _nobody_came(room=tracker.room, waited_s=now - created_at, ctx=ctx)
        if first is not None and tracker.ended_at is None and now - first >= limit_s:
            return (
                f"the call was still going {now - first:.0f} s after the first agent joined "
                f"(the scenario allows {limit_s - limits.margin_s:.0f} s); stopped"
            )
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), limits.check_interval_s)


def _nobody_came(*, room: str, waited_s: float, ctx: CallContext) -> str:
    where = (
        f"start a worker for agent {AGENT_NAME!r} on this server"
        if ctx.worker_elsewhere
        else "the in-process worker did not answer; see the log"
    )
    return f"no worker took the job: no agent joined {room} within {waited_s:.0f} s ({where})"


def _outcome(call: PlannedCall, tracker: CallTracker, error: str | None) -> CallOutcome:
    """The call's outcome from its record (``report.json``), or why there is none."""
    if tracker.run_dir is None:
        return CallOutcome(call, None, None, error or "the call was not recorded")
    path = Path(tracker.run_dir) / REPORT_FILE
    if tracker.record_error:
        return CallOutcome(
            call, None, None, error or f"record not finished: {tracker.record_error}"
        )
    try:
        report: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return CallOutcome(call, None, None, error or f"record unreadable: {path}: {exc}")
    if not isinstance(report, dict):
        return CallOutcome(call, path, None, error or f"record unreadable: {path}: not an object")
    return CallOutcome(call, path, report, error)


def _finished_text(outcome: CallOutcome, tracker: CallTracker) -> str:
    """The call's line: passed or which contracts failed, how it ended, where its record is."""
    record = f"; record {outcome.report_path.parent}" if outcome.report_path else ""
    if outcome.error is not None:
        return f"error: {outcome.error}{record}"
    call = outcome.call
    verdict = judge_call(call.scenario, call.index, None, outcome.report)
    failed = [result.name for result in verdict.failures]
    judged = "passed" if verdict.passed else f"FAILED {', '.join(failed)}"
    report = outcome.report or {}
    duration = report.get("duration_s")
    took = f" in {duration:.1f} s" if isinstance(duration, int | float) else ""
    reason = report.get("ended_reason") or tracker.ended_reason or "over"
    return f"{judged}: ended ({reason}, {tracker.turns} turns){took}{record}"
