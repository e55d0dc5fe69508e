"""One room as the dashboard sees it, for the end-to-end tests of faults and calls.

A :class:`tui.core.room_watch.RoomWatch` (observer, room and dispatch polling, log errors)
feeds the one reducer, a :class:`tui.core.room_model.RoomModel` built by the test, and every
event is kept for the test to read. Used as ``async with``: leaving closes the watch and
deletes the room.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from helpers import eventually

from agents.constants import AGENT_STATE_ATTRIBUTE
from tui.core.control_plane import ControlPlane, ControlPlaneError
from tui.core.diagnostics import Check
from tui.core.events import AttributesChanged, AudioLevel, SessionEvent, WatchEvent
from tui.core.local_server import LocalServer
from tui.core.log_errors import LogErrorCounter
from tui.core.room_model import RoomModel
from tui.core.room_watch import RoomWatch
from tui.core.settings import LiveKitSettings

LEVEL_INTERVAL_S = 0.1
"""How often the watch's meters report a level (RoomWatch's default)."""
AUDIBLE_PAUSE_S = 0.4
"""Silence shorter than this inside one agent's audio is a pause between words, not a turn."""


def overlaps(
    first: list[tuple[float, float]], second: list[tuple[float, float]], slack_s: float
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Pairs of intervals, one of each list, that share more than ``slack_s``."""
    return [(a, b) for a in first for b in second if min(a[1], b[1]) - max(a[0], b[0]) > slack_s]


class CallWatch:
    """``room`` on ``server`` watched into ``model`` (the test applies its voice and worker
    status first), polling every 0.5 s."""

    def __init__(
        self,
        server: LocalServer,
        room: str,
        model: RoomModel,
        log_errors: LogErrorCounter | None = None,
    ) -> None:
        self.server, self.room, self.model = server, room, model
        self.events: list[WatchEvent] = []
        self.control = ControlPlane(server.url, server.api_key, server.api_secret)
        settings = LiveKitSettings(server.url, server.api_key, server.api_secret, "test")
        self.watch = RoomWatch(
            settings,
            self.control,
            self._apply,
            poll_interval_s=0.5,
            level_interval_s=LEVEL_INTERVAL_S,
            observer_identity=f"obs-{uuid.uuid4().hex[:6]}",
            log_errors=log_errors,
        )

    def _apply(self, event: WatchEvent) -> None:
        self.events.append(event)
        self.model.apply(event)

    async def __aenter__(self) -> CallWatch:
        await self.control.__aenter__()
        self.model.reset(self.room, now=time.monotonic())
        self.watch.start()
        await self.watch.watch(self.room)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.watch.aclose()
        with contextlib.suppress(ControlPlaneError):
            await self.control.delete_room(self.room)
        await self.control.__aexit__(None, None, None)

    # ------------------------------------------------------------------ what was seen

    def checks(self) -> dict[str, Check]:
        """The model's checks now, by id."""
        return {check.id: check for check in self.model.evaluate(time.monotonic())}

    async def wait_for_check(
        self,
        check_id: str,
        status: str,
        contains: str,
        timeout_s: float,
        *,
        what: str = "",
        interval_s: float = 0.05,
    ) -> Check:
        """The check ``check_id`` once it has ``status`` with ``contains`` in its finding;
        AssertionError naming ``what`` (else the check) and the last check seen otherwise."""
        last: list[Check] = []
        what = what or f"{check_id} {status} with {contains!r}"

        def found() -> Check | None:
            check = self.checks()[check_id]
            last[:] = [check]
            return check if check.status == status and contains in check.finding else None

        try:
            return await eventually(found, timeout_s, what, interval_s=interval_s)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}: {check_id} never {status} with {contains!r}; last: {last}"
            ) from None

    def sessions(self, kind: str, role: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the agents' session events of ``kind`` (of ``role`` if given)."""
        return [
            e.payload
            for e in self.events
            if isinstance(e, SessionEvent) and e.kind == kind and role in (None, e.role)
        ]

    async def wait_for_session(self, kind: str, timeout_s: float) -> dict[str, Any]:
        """The first session event of ``kind``, waiting up to ``timeout_s``."""
        return (await eventually(lambda: self.sessions(kind), timeout_s, f"a {kind} event"))[0]

    def final_lines(self, identity: str) -> list[str]:
        """``identity``'s final transcript lines, in order."""
        view = self.model.state.get(identity)
        return [line.text.strip() for line in view.transcript if line.final] if view else []

    def loudest(self, identity: str) -> float:
        """The loudest level the observer's meter read from ``identity`` (dBFS)."""
        mine = [
            e.rms_dbfs for e in self.events if isinstance(e, AudioLevel) and e.identity == identity
        ]
        return max(mine, default=-120.0)

    def audible_intervals(
        self, identity: str, threshold_dbfs: float, *, pause_s: float = AUDIBLE_PAUSE_S
    ) -> list[tuple[float, float]]:
        """When the observer heard ``identity`` above ``threshold_dbfs``, by its clock: runs of
        loud meter reports, pauses between words up to ``pause_s`` bridged. Each report covers the
        meter interval before it, so a run starts one interval before its first loud report."""
        intervals: list[tuple[float, float]] = []
        for event in self.events:
            if not (isinstance(event, AudioLevel) and event.identity == identity):
                continue
            if event.rms_dbfs <= threshold_dbfs:
                continue
            if intervals and event.at - intervals[-1][1] <= pause_s:
                intervals[-1] = (intervals[-1][0], event.at)
            else:
                intervals.append((event.at - LEVEL_INTERVAL_S, event.at))
        return intervals

    def speaking_intervals(self, identity: str) -> list[tuple[float, float]]:
        """When ``lk.agent.state`` said ``speaking``, by the observer's clock."""
        intervals: list[tuple[float, float]] = []
        started: float | None = None
        for event in self.events:
            if not isinstance(event, AttributesChanged) or event.identity != identity:
                continue
            state = dict(event.changed).get(AGENT_STATE_ATTRIBUTE)
            if state == "speaking" and started is None:
                started = event.at
            elif state is not None and state != "speaking" and started is not None:
                intervals.append((started, event.at))
                started = None
        if started is not None:
            intervals.append((started, time.monotonic()))
        return intervals
