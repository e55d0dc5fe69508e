"""The call on one time axis, as rows of block characters: what the timeline screen draws.

:func:`frame` cuts the window ``start`` .. ``start + width * seconds_per_cell`` out of a
:class:`~tui.core.room_model.RoomModel`: one lane per agent (its speaking heard in the audio,
``█`` a whole cell, ``▐``/``▌`` a part, and between turns ``░`` while it is thinking, ``·``
while it is in the room), the troubles between them (overlaps ``▀``, dead air ``─``,
deadlocks ``×``), where transcript lines begin and where checks changed. The work is bounded
by what lies in the window (intervals and states are found by bisection), not by the call's
length. Plain text and numbers: the widget only adds colours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from tui.core.room_model import RoomModel

ZOOMS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds per cell, from the finest to the coarsest."""
DEFAULT_ZOOM: Final = 2
_TICKS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_TICK_CELLS: Final = 12
"""Ticks are at least this many cells apart."""
ISSUE_GLYPHS: Final = {"overlap": "▀", "dead_air": "─", "deadlock": "×"}


@dataclass(frozen=True, slots=True)
class Lane:
    """One participant's row: ``cells`` has one character per cell."""

    identity: str
    name: str
    cells: str
    speaking: bool
    """Audible now (the lane's name is drawn as speaking)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """Something that happened at ``cell``: a transcript line (``kind`` is its speaker) or a
    check's change (``kind`` is its status)."""

    cell: int
    kind: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class Frame:
    """One drawing of the timeline."""

    start: float
    seconds_per_cell: float
    width: int
    axis: str
    lanes: tuple[Lane, ...]
    issues: str
    transcript: tuple[Mark, ...]
    findings: tuple[Mark, ...]
    now_cell: int | None
    """The cell of ``now`` when it is in the window."""


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour) for seconds since the call's origin."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def end_of_call(model: RoomModel, now: float) -> float:
    """Where a following timeline ends: ``now`` while an agent is in the room, else a moment
    after the last event (a finished call or a replay stays in view)."""
    turns = model.turns
    if turns.present() or not turns.agents:
        return now
    return min(now, turns.now + 1.0)


def frame(model: RoomModel, start: float, seconds_per_cell: float, width: int, now: float) -> Frame:
    """The window of ``width`` cells from ``start`` (monotonic seconds) at ``now``."""
    width = max(1, width)
    end = start + width * seconds_per_cell
    origin = model.state.started_at
    turns = model.turns
    lanes = tuple(
        Lane(
            identity,
            turns.name(identity),
            _cells(model, identity, start, end, seconds_per_cell, width, now),
            turns.audible(identity),
        )
        for identity in turns.lanes()
    )

    def cell(at: float) -> int:
        return int((at - start) / seconds_per_cell)

    transcript = tuple(
        Mark(cell(line.started_at), line.identity, line.text, line.started_at)
        for line in model.state.transcript
        if start <= line.started_at < end
    ) + tuple(
        Mark(cell(line.started_at), line.identity, line.text, line.started_at)
        for line in model.state.in_progress()
        if start <= line.started_at < end
    )
    findings = tuple(
        Mark(cell(mark.at), mark.status, f"{mark.check_id}: {mark.finding}", mark.at)
        for mark in model.findings.marks
        if start <= mark.at < end
    )
    return Frame(
        start=start,
        seconds_per_cell=seconds_per_cell,
        width=width,
        axis=_axis(start - origin, seconds_per_cell, width),
        lanes=lanes,
        issues=_issues(model, start, end, seconds_per_cell, width),
        transcript=transcript,
        findings=findings,
        now_cell=cell(now) if start <= now < end else None,
    )


def _axis(offset: float, seconds_per_cell: float, width: int) -> str:
    """Labels at round times (``offset`` is the window's start since the origin)."""
    step = next((s for s in _TICKS if s / seconds_per_cell >= _TICK_CELLS), _TICKS[-1])
    row = [" "] * width
    tick = math.ceil(offset / step) * step
    while (column := round((tick - offset) / seconds_per_cell)) < width:
        label = "╵" + clock(tick)
        if column >= 0 and all(ch == " " for ch in row[column : column + len(label) + 1]):
            row[column : column + len(label)] = label[: width - column]
        tick += step
    return "".join(row)[:width]


def _cells(
    model: RoomModel,
    identity: str,
    start: float,
    end: float,
    seconds_per_cell: float,
    width: int,
    now: float,
) -> str:
    turns = model.turns
    row = [" "] * width
    agent = turns.agents.get(identity)
    # between turns: present, thinking
    if agent is not None:
        here_from = max(start, agent.joined_at)
        here_to = min(end, agent.left_at if agent.left_at is not None else now)
        changes = turns.states_between(identity, here_from, here_to)
        index, state = 0, ""
        for column in range(width):
            at = start + (column + 0.5) * seconds_per_cell
            while index < len(changes) and changes[index][0] <= at:
                state = changes[index][1]
                index += 1
            if here_from <= at < here_to:
                row[column] = "░" if state == "thinking" else "·"
    # speaking: how much of each cell is covered
    covered = [0.0] * width
    begins = [False] * width
    for a, b in turns.intervals_between(identity, start, min(end, now)):
        a, b = max(a, start), min(b, end)
        first, last = int((a - start) / seconds_per_cell), int((b - start) / seconds_per_cell)
        if 0 <= first < width:
            begins[first] = True
        for column in range(max(0, first), min(width - 1, last) + 1):
            cell_start = start + column * seconds_per_cell
            part = min(b, cell_start + seconds_per_cell) - max(a, cell_start)
            covered[column] += max(0.0, part) / seconds_per_cell
    for column, share in enumerate(covered):
        if share >= 0.5:
            row[column] = "█"
        elif share > 0.0:
            row[column] = "▐" if begins[column] else "▌"
    return "".join(row)


def _issues(model: RoomModel, start: float, end: float, seconds_per_cell: float, width: int) -> str:
    row = [" "] * width
    for kind, stretch in model.turns.sweep.recent:
        if stretch.end <= start or stretch.start >= end:
            continue
        first = max(0, int((stretch.start - start) / seconds_per_cell))
        last = min(width - 1, int((stretch.end - start) / seconds_per_cell))
        for column in range(first, last + 1):
            row[column] = ISSUE_GLYPHS[kind]
    return "".join(row)
