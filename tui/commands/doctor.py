"""``dispatch-tui doctor``: the dashboard's checks without the dashboard, as a table.

Doctor talks to an existing server (it never starts one: a room on a throwaway server would
tell nothing), checks that it answers and accepts the credentials, picks the given room or the
newest one, and watches it as a hidden observer for a few seconds while listing its dispatches.
The worker runs in another process, so its registration is inferred from the room: a dispatch
that no agent answered within a few seconds means no worker serves that agent name.

Exit code 0 when every check is ``ok``; 1 otherwise (``pending`` at the deadline counts as not
passing: doctor could not confirm it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TextIO

from agents.constants import AGENT_NAME
from tui.core.control_plane import ControlPlane, ControlPlaneError, RoomSummary
from tui.core.diagnostics import Check, Thresholds, worst
from tui.core.infra_events import ControlPlaneAnswered, VoiceConfigured
from tui.core.observer import ObserverError
from tui.core.record.store import RunStore
from tui.core.roles import RoleMatch
from tui.core.room_model import RoomModel
from tui.core.room_watch import RoomWatch
from tui.core.settings import LiveKitSettings

DEFAULT_TIMEOUT_S: Final = 10.0
POLL_INTERVAL_S: Final = 0.5
DISPATCH_POLL_S: Final = 1.0
EXIT_OK, EXIT_FAILED = 0, 1
_STATUS_TEXT: Final = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "pending": "pending"}
_SERVER_ONLY: Final = ("server.reachable", "server.credentials", "openai.key", "openai.realtime")


@dataclass(frozen=True)
class DoctorResult:
    """What doctor found: the room it looked at (if any), the checks and the exit code."""

    room: str | None
    checks: list[Check]
    elapsed_s: float
    record: str = ""
    """The run directory the watched room was recorded to ("" when not recorded)."""

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.checks and worst(self.checks) == "ok" else EXIT_FAILED


def _printable(text: str) -> str:
    """Identities and errors come from the network: keep terminal control codes out."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def format_checks(checks: Sequence[Check]) -> str:
    """A plain table: status, check id, finding; the fix indented below each non-ok line."""
    width = max((len(check.id) for check in checks), default=5)
    lines = [f"{'STATUS':<8} {'CHECK':<{width}}  FINDING"]
    for check in checks:
        status = _STATUS_TEXT[check.status]
        lines.append(f"{status:<8} {check.id:<{width}}  {_printable(check.finding)}")
        if check.status != "ok" and check.fix:
            lines.append(f"{'':<8} {'':<{width}}  fix: {_printable(check.fix)}")
    return "\n".join(lines)


def _voice_from_env(model: RoomModel) -> None:
    """Doctor's process usually shares the worker's environment: judge the voice from it."""
    from agents.voices import VoiceConfigError, resolve_voice_mode

    try:
        mode = resolve_voice_mode()
    except VoiceConfigError:
        return  # stays pending: the worker itself would refuse to start
    key_present = bool(os.environ.get("OPENAI_API_KEY", "").strip())
    model.apply(VoiceConfigured(mode, key_present=key_present))


def _newest(rooms: Sequence[RoomSummary]) -> RoomSummary | None:
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(rooms, key=lambda room: (room.created_at or epoch, room.name), default=None)


async def diagnose(
    settings: LiveKitSettings,
    *,
    room: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    agent_name: str = AGENT_NAME,
    thresholds: Thresholds | None = None,
    clock: Callable[[], float] = time.monotonic,
    record: RunStore | None = None,
    matches: tuple[RoleMatch, ...] = (),
) -> DoctorResult:
    """Run every check against ``settings`` for up to ``timeout_s`` seconds; never raises
    ControlPlaneError (it becomes a failed check)."""
    started = clock()
    deadline = started + timeout_s
    model = RoomModel(
        in_process_worker=False,
        expected_agent_name=agent_name,
        thresholds=thresholds,
        matches=matches,
    )
    _voice_from_env(model)
    async with ControlPlane.from_settings(settings, timeout_s=min(timeout_s, 10.0)) as control:
        try:
            rooms = await control.list_rooms()
        except ControlPlaneError as error:
            model.apply(ControlPlaneAnswered(False, error.kind, str(error)))
            return DoctorResult(None, _server_only(model.evaluate(clock())), clock() - started)
        model.apply(ControlPlaneAnswered(True))
        chosen = next((r for r in rooms if r.name == room), None) if room else _newest(rooms)
        if chosen is None:
            checks = _server_only(model.evaluate(clock()))
            missing = f"no active room named {room}" if room else "no active room to observe"
            checks.append(
                Check(
                    "room",
                    "Room to observe",
                    "fail" if room else "ok",
                    missing,
                    "create one (dispatch-tui create-room)" if room else "",
                )
            )
            return DoctorResult(room, checks, clock() - started)
        model.reset(chosen.name, now=clock())
        checks = await _observe(model, control, settings, chosen.name, deadline, clock, record)
    return DoctorResult(
        chosen.name, checks, clock() - started, model.recording.get(chosen.name, "")
    )


def _server_only(checks: list[Check]) -> list[Check]:
    return [check for check in checks if check.id in _SERVER_ONLY]


async def _observe(
    model: RoomModel,
    control: ControlPlane,
    settings: LiveKitSettings,
    room: str,
    deadline: float,
    clock: Callable[[], float],
    record: RunStore | None,
) -> list[Check]:
    # The same watch as the dashboard's, under a unique identity: a second participant with the
    # dashboard's observer identity would disconnect the dashboard's observer.
    watch = RoomWatch(
        settings,
        control,
        model.apply,
        poll_interval_s=DISPATCH_POLL_S,
        observer_identity=f"dispatch-tui-doctor-{secrets.token_hex(3)}",
        record=record,
    )
    try:
        watch.start()
        # A failed join is reported to the model as an ObserverStatus "failed".
        with contextlib.suppress(ObserverError):
            await watch.watch(room)
        while True:
            checks = model.evaluate(clock())
            watch.note_checks(checks)
            # Stop early once everything passed, or once nothing can change any more.
            if worst(checks) == "ok" or clock() >= deadline:
                return checks
            await asyncio.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - clock())))
    finally:
        await watch.aclose()


def run_doctor(
    settings: LiveKitSettings,
    *,
    room: str | None,
    timeout_s: float,
    agent_name: str,
    out: TextIO,
    err: TextIO,
    record: RunStore | None = None,
    matches: tuple[RoleMatch, ...] = (),
) -> int:
    """The ``doctor`` command: print the table on ``out``, a one-line verdict on ``err``."""
    result = asyncio.run(
        diagnose(
            settings,
            room=room,
            timeout_s=timeout_s,
            agent_name=agent_name,
            record=record,
            matches=matches,
        )
    )
    if result.room:
        print(f"room {_printable(result.room)}", file=out)
    print(format_checks(result.checks), file=out)
    failing = [check.id for check in result.checks if check.status != "ok"]
    verdict = "all checks passed" if not failing else f"{len(failing)} not ok: {', '.join(failing)}"
    if result.record:
        print(f"record {_printable(result.record)}", file=out)
    print(f"doctor: {verdict} ({result.elapsed_s:.1f} s)", file=err)
    return result.exit_code
