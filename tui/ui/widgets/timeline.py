"""The timeline widget: a lane per agent on one time axis (:func:`tui.core.timeline.frame`),
coloured with Rich styles. It follows the live call, or stays where it was scrolled to."""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.widgets import Static

from tui.core.room_model import RoomModel
from tui.core.timeline import DEFAULT_ZOOM, ZOOMS, Frame, Mark, end_of_call, frame

NAME_WIDTH: Final = 14
LANE_STYLES: Final = ("bold #2f6fdf", "bold #e07b00", "bold green", "bold magenta", "bold cyan")
"""Lane colours in join order (the HTML report's blue and orange first)."""
STATUS_STYLES: Final = {"fail": "bold red", "warn": "bold yellow", "ok": "green"}
ISSUE_STYLES: Final = {"▀": "bold red", "─": "yellow", "×": "bold magenta"}


class Timeline(Static):
    """Draws ``model`` between :attr:`start` and the window's end; see :meth:`redraw`."""

    DEFAULT_CSS = "Timeline { height: auto; }"

    def __init__(self, model: RoomModel, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.model = model
        self.zoom = DEFAULT_ZOOM
        self.follow = True
        """Keep the end of the call in view (scrolling away stops following)."""
        self.start: float | None = None
        self.shown: Frame | None = None

    @property
    def seconds_per_cell(self) -> float:
        return ZOOMS[self.zoom]

    @property
    def cells(self) -> int:
        return max(10, self.size.width - NAME_WIDTH)

    def styles_of(self) -> dict[str, str]:
        """Identity -> lane style, in lane order."""
        lanes = self.model.turns.lanes()
        return {identity: LANE_STYLES[i % len(LANE_STYLES)] for i, identity in enumerate(lanes)}

    def redraw(self, now: float) -> Frame:
        """Draw the window at ``now``: work bounded by the cells and what lies in them."""
        span = self.cells * self.seconds_per_cell
        if self.follow or self.start is None:
            end = end_of_call(self.model, now)
            self.start = max(self.model.state.started_at, end - span * 0.9)
        shown = frame(self.model, self.start, self.seconds_per_cell, self.cells, now)
        self.shown = shown
        self.update(self._text(shown))
        return shown

    def pan(self, fraction: float, now: float) -> None:
        """Scroll by ``fraction`` of the window (negative: back in time)."""
        start = self.start if self.start is not None else now
        self.start = start + fraction * self.cells * self.seconds_per_cell
        self.start = max(self.model.state.started_at, self.start)
        end = end_of_call(self.model, now)
        self.follow = self.start + self.cells * self.seconds_per_cell * 0.9 >= end
        if self.follow:
            self.start = None

    def set_zoom(self, step: int) -> None:
        """Finer (negative) or coarser (positive) by ``step`` zoom levels, around the middle."""
        zoom = min(len(ZOOMS) - 1, max(0, self.zoom + step))
        if self.start is not None and not self.follow:
            middle = self.start + self.cells * self.seconds_per_cell / 2
            self.start = middle - self.cells * ZOOMS[zoom] / 2
        self.zoom = zoom

    def to_start(self) -> None:
        self.follow, self.start = False, self.model.state.started_at

    def to_end(self) -> None:
        self.follow, self.start = True, None

    def _text(self, shown: Frame) -> Text:
        styles = self.styles_of()
        text = Text(no_wrap=True, overflow="crop")
        text.append(" " * NAME_WIDTH)
        axis = shown.axis
        if shown.now_cell is not None:
            axis = axis[: shown.now_cell] + "┃" + axis[shown.now_cell + 1 :]
        text.append(axis, style="dim")
        for lane in shown.lanes:
            text.append("\n")
            style = styles.get(lane.identity, "")
            label = ("● " if lane.speaking else "  ") + lane.name
            text.append(label[: NAME_WIDTH - 1].ljust(NAME_WIDTH), style)
            for run, char in _runs(lane.cells):
                text.append(run, style if char in "█▐▌" else "dim")
        text.append("\n")
        text.append("  turn-taking".ljust(NAME_WIDTH), "dim")
        for run, char in _runs(shown.issues):
            text.append(run, ISSUE_STYLES.get(char, ""))
        text.append("\n")
        text.append("  said".ljust(NAME_WIDTH), "dim")
        text.append_text(_marks(shown.transcript, shown.width, "▼", styles))
        text.append("\n")
        text.append("  checks".ljust(NAME_WIDTH), "dim")
        text.append_text(_marks(shown.findings, shown.width, "◆", STATUS_STYLES))
        return text


def _runs(cells: str) -> list[tuple[str, str]]:
    """Consecutive equal characters as ``(run, character)``: one style span per run."""
    runs: list[tuple[str, str]] = []
    for char in cells:
        if runs and runs[-1][1] == char:
            runs[-1] = (runs[-1][0] + char, char)
        else:
            runs.append((char, char))
    return runs


def _marks(marks: tuple[Mark, ...], width: int, glyph: str, styles: dict[str, str]) -> Text:
    row: list[tuple[str, str]] = [(" ", "")] * width
    for mark in marks:
        if 0 <= mark.cell < width:
            row[mark.cell] = (glyph, styles.get(mark.kind, "bold"))
    text = Text()
    for char, style in row:
        text.append(char, style)
    return text
