"""The worker-log tail: drains the LogBuffer on a timer into a bounded Log widget."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log, Static

from tui.core.log_bridge import LogBuffer, LogLine

LEVELS: tuple[tuple[str, int], ...] = (
    ("DEBUG", logging.DEBUG),
    ("INFO", logging.INFO),
    ("WARNING", logging.WARNING),
    ("ERROR", logging.ERROR),
)


class LogPane(Vertical):
    """Tail of every captured log record, with level filter, follow/pause, search and a count
    of lines dropped under load."""

    level_index: reactive[int] = reactive(1)
    following: reactive[bool] = reactive(True)
    search: reactive[str] = reactive("")

    def __init__(
        self,
        buffer: LogBuffer,
        log_path: Path,
        *,
        max_lines: int = 2000,
        drain_interval_s: float = 0.1,
        drain_limit: int = 2000,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._buffer = buffer
        self._log_path = log_path
        self._status_text = ""
        self._history: deque[LogLine] = deque(maxlen=max_lines)
        """Recent lines, kept so a filter change can re-render without re-reading the file."""
        self._max_lines = max_lines
        self._drain_interval_s = drain_interval_s
        self._drain_limit = drain_limit
        self.dropped_total = 0
        self.lines_shown = 0
        self.errors_seen = 0

    def compose(self) -> ComposeResult:
        yield Static(id="log-status")
        yield Input(placeholder="search the log (Enter to apply, Esc to clear)", id="log-search")
        yield Log(max_lines=self._max_lines, id="log-lines")

    def on_mount(self) -> None:
        self.border_title = "Worker log"
        self.query_one("#log-search", Input).display = False
        self.set_interval(self._drain_interval_s, self.drain)
        self._update_status()

    @property
    def min_level(self) -> int:
        return LEVELS[self.level_index][1]

    def _accepts(self, line: LogLine) -> bool:
        if line.levelno < self.min_level:
            return False
        return not self.search or self.search.lower() in line.text.lower()

    def drain(self) -> None:
        """Move buffered records into the pane; cheap when nothing arrived."""
        lines, dropped = self._buffer.drain(self._drain_limit)
        if not lines and not dropped:
            return
        self.dropped_total += dropped
        self.errors_seen += sum(1 for line in lines if line.levelno >= logging.ERROR)
        self._history.extend(lines)
        if self.following:
            visible = [line.text for line in lines if self._accepts(line)]
            if visible:
                self.query_one(Log).write_lines(visible)
                self.lines_shown += len(visible)
        self._update_status()

    def _rerender(self) -> None:
        log = self.query_one(Log)
        log.clear()
        visible = [line.text for line in self._history if self._accepts(line)]
        log.write_lines(visible)
        self.lines_shown = len(visible)
        self._update_status()

    def _update_status(self) -> None:
        follow = "following" if self.following else "PAUSED"
        search = f"  search: {self.search!r}" if self.search else ""
        dropped = f"  dropped: {self.dropped_total}" if self.dropped_total else ""
        text = (
            f"level ≥ {LEVELS[self.level_index][0]}  {follow}{search}{dropped}  "
            f"file: {self._log_path}"
        )
        status = self.query_one("#log-status", Static)
        if text != self._status_text:  # an update re-lays out the screen: skip unchanged text
            self._status_text = text
            status.update(text)
        status.set_class(not self.following, "-paused")

    def cycle_level(self) -> None:
        self.level_index = (self.level_index + 1) % len(LEVELS)
        self._rerender()

    def toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self._rerender()
        else:
            self._update_status()

    def open_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.display = True
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search = event.value.strip()
        event.input.display = bool(self.search)
        self._rerender()

    def clear_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.value = ""
        field.display = False
        self.search = ""
        self._rerender()
