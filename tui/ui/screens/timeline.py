"""The timeline screen (key ``v``): the observed call on one time axis, following it live.

A lane per agent with its speaking bars (heard in its audio), its thinking and its presence;
the call's troubles (overlaps, dead air, deadlocks); where each transcript line began and where
a check changed; below, those lines and findings in words. Redrawn every ``interval_s`` from
the app's model; each redraw costs what the window shows, however long the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.core.room_model import RoomModel
from tui.core.timeline import Frame, clock
from tui.ui.widgets.timeline import STATUS_STYLES, Timeline

LINES_SHOWN: Final = 60
"""Transcript lines and findings listed under the lanes (the latest of the window)."""


class TimelineScreen(Screen[None]):
    """Lanes, markers and the words of the window; Esc or v closes it."""

    DEFAULT_CSS = """
    TimelineScreen #timeline-title { height: 1; text-style: bold; padding: 0 1; }
    TimelineScreen #timeline { margin: 1 0; }
    TimelineScreen #timeline-words { height: 1fr; border-top: solid $primary-darken-2; }
    TimelineScreen .dim { color: $text-muted; height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v", "close", "Close"),
        Binding("left", "pan(-0.25)", "Earlier"),
        Binding("right", "pan(0.25)", "Later"),
        Binding("minus", "zoom(1)", "Zoom out", key_display="-"),
        Binding("plus,equals_sign", "zoom(-1)", "Zoom in", key_display="+"),
        Binding("home", "to_start", "Start"),
        Binding("end,f", "to_end", "Follow"),
    ]

    def __init__(
        self,
        model: RoomModel,
        *,
        now: Callable[[], float] = time.monotonic,
        interval_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.model = model
        self._now = now
        self._interval_s = interval_s
        self._words = Text()

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-title", markup=False)
        yield Timeline(self.model, id="timeline")
        with VerticalScroll(id="timeline-words"):
            yield Static(id="timeline-words-text", markup=False)
        yield Static(
            "█ speaking (heard)  ░ thinking  · in the room  ▀ overlap  ─ dead air  × deadlock"
            "  ▼ a transcript line  ◆ a check changed",
            classes="dim",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self.redraw)
        self.set_interval(self._interval_s, self.redraw)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def words_plain(self) -> str:
        """The words under the lanes as plain text (for tests)."""
        return self._words.plain

    def redraw(self) -> None:
        """Draw the window now (and the words in it)."""
        timeline = self.timeline
        shown = timeline.redraw(self._now())
        origin = self.model.state.started_at
        end = shown.start + shown.width * shown.seconds_per_cell
        title = (
            f"Timeline · room {self.model.state.room or '(none)'} · "
            f"{clock(shown.start - origin)}–{clock(end - origin)} · "
            f"{shown.seconds_per_cell:g} s a cell · "
            f"{'following' if timeline.follow else 'scrolled (f follows)'}"
        )
        self.query_one("#timeline-title", Static).update(title)
        words = self._words_text(shown, origin, timeline.styles_of())
        if words != self._words:
            self._words = words
            self.query_one("#timeline-words-text", Static).update(words)

    def _words_text(self, shown: Frame, origin: float, styles: dict[str, str]) -> Text:
        items = sorted(
            [(mark.at, "said", mark) for mark in shown.transcript]
            + [(mark.at, "check", mark) for mark in shown.findings],
            key=lambda item: item[0],
        )[-LINES_SHOWN:]
        text = Text()
        for index, (at, kind, mark) in enumerate(items):
            if index:
                text.append("\n")
            text.append(f"{clock(at - origin):>7} ", "dim")
            if kind == "said":
                text.append(f"{self.model.turns.name(mark.kind)}: ", styles.get(mark.kind, "bold"))
                text.append(mark.text)
            else:
                text.append(f"{mark.kind}: ", STATUS_STYLES.get(mark.kind, "bold"))
                text.append(mark.text)
        if not items:
            text.append("nothing said and no check changed in this window", "dim")
        return text

    def action_close(self) -> None:
        self.dismiss(None)

    def action_pan(self, fraction: float) -> None:
        self.timeline.pan(fraction, self._now())
        self.redraw()

    def action_zoom(self, step: int) -> None:
        self.timeline.set_zoom(step)
        self.redraw()

    def action_to_start(self) -> None:
        self.timeline.to_start()
        self.redraw()

    def action_to_end(self) -> None:
        self.timeline.to_end()
        self.redraw()
