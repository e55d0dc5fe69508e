"""Progress of ``dispatch-tui run`` on a text stream (stderr), without Textual.

On a terminal one status line is redrawn in place (a bar, the calls done, each running call's
state); elsewhere (CI logs, files) each change of a call's state is one line. Either way a call
that finished, and anything :meth:`RunProgress.note` says, gets a line of its own that stays.
Text from the network (room names, errors) is kept printable.
"""

from __future__ import annotations

import shutil
from typing import Final, TextIO

BAR_WIDTH: Final = 20
_CLEAR_LINE: Final = "\r\x1b[K"


def printable(text: str) -> str:
    """``text`` on one line, control characters replaced (they could drive the terminal)."""
    return "".join(ch if ch.isprintable() else "?" for ch in " ".join(text.split()))


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#####-----]``: ``done`` of ``total`` as a bar of ``width`` cells."""
    filled = width if total <= 0 else min(width, done * width // total)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class RunProgress:
    """Where the runner says what each call is doing; see the module docstring.

    ``live`` draws the status line in place (default: when ``stream`` is a terminal).
    """

    def __init__(self, stream: TextIO, total: int, *, live: bool | None = None) -> None:
        self._stream = stream
        self.total = total
        self.done = 0
        self._live = _is_terminal(stream) if live is None else live
        self._states: dict[str, tuple[str, str]] = {}
        """Running call -> (phase, detail), in the order the calls started."""
        self._drawn = False

    def note(self, text: str) -> None:
        """A line that stays (setup steps, where the records go)."""
        self._line(f"run: {printable(text)}")

    def state(self, call: str, phase: str, detail: str = "") -> None:
        """``call`` is now in ``phase`` (``waiting for agents``, ``talking``...); ``detail``
        (``turn 3``) only refreshes the live line."""
        before = self._states.get(call)
        if before == (phase, detail):
            return
        self._states[call] = (phase, detail)
        if self._live:
            self._redraw()
        elif before is None or before[0] != phase:
            self._line(f"run: {printable(call)}: {printable(phase)}")

    def finished(self, call: str, text: str) -> None:
        """``call`` is over: one line that stays, counted in the bar."""
        self._states.pop(call, None)
        self.done += 1
        self._line(f"run: [{self.done}/{self.total}] {printable(call)} {printable(text)}")

    def close(self) -> None:
        """Clear the live line (the summary follows on a clean line)."""
        if self._drawn:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._drawn = False

    def status_line(self) -> str:
        """The live line: bar, calls done, each running call's state."""
        calls = [
            f"{name} {phase}" + (f" ({detail})" if detail else "")
            for name, (phase, detail) in self._states.items()
        ]
        head = f"run {bar(self.done, self.total)} {self.done}/{self.total}"
        return printable(" | ".join([head, *calls]))

    def _line(self, text: str) -> None:
        if self._drawn:
            self._stream.write(_CLEAR_LINE)
        self._stream.write(text + "\n")
        self._drawn = False
        if self._live and self._states:
            self._redraw()
        else:
            self._stream.flush()

    def _redraw(self) -> None:
        width = shutil.get_terminal_size((100, 24)).columns - 1
        line = self.status_line()
        if len(line) > width:
            line = line[: max(0, width - 3)] + "..."
        self._stream.write(_CLEAR_LINE + line)
        self._stream.flush()
        self._drawn = True


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False
