"""Route every log record of the process into a bounded buffer and a file.

The handler runs on whichever thread logged (job threads, the rtc SDK's native threads, the
asyncio loop). It only formats the record and appends it to a bounded deque: no Textual call, no
message per record. The log pane drains the deque on a timer. Records that arrive while the deque
is full push the oldest out and are counted as dropped, so a flood never blocks a producer or
grows memory.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tui.core.redaction import redact, redact_tokens

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"
CAPTURED_LOGGERS = (
    "livekit.agents",
    "livekit.plugins.openai",
    "livekit",
    "agents",
    "multi_agent_worker",
    "tui",
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One formatted record, kept with its level so the pane can filter without re-parsing."""

    levelno: int
    text: str


class RedactingFormatter(logging.Formatter):
    """A stdlib formatter that replaces every known secret with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(LOG_FORMAT, DATE_FORMAT)
        self._secrets: tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact_tokens(redact(super().format(record), self._secrets))


class LogBuffer(logging.Handler):
    """A logging handler keeping the newest ``capacity`` formatted lines for the UI to drain."""

    def __init__(self, capacity: int = 5000, formatter: logging.Formatter | None = None) -> None:
        super().__init__(logging.DEBUG)
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._count_lock = threading.Lock()
        self._dropped = 0
        self.received = 0
        """Records accepted since start (for the status line and benchmarks)."""
        self.setFormatter(formatter or RedactingFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = LogLine(record.levelno, self.format(record))
        except Exception:  # a broken record must not break the thread that logged it
            self.handleError(record)
            return
        with self._count_lock:
            if len(self._lines) == self._lines.maxlen:
                self._dropped += 1
            self._lines.append(line)
            self.received += 1

    def drain(self, limit: int | None = None) -> tuple[list[LogLine], int]:
        """Take up to ``limit`` of the oldest buffered lines, and the dropped count since the
        last drain."""
        with self._count_lock:
            count = len(self._lines) if limit is None else min(limit, len(self._lines))
            lines = [self._lines.popleft() for _ in range(count)]
            dropped, self._dropped = self._dropped, 0
        return lines, dropped

    def pending(self) -> int:
        return len(self._lines)


class LogCapture:
    """Attach the buffer and a log file to the root logger; undo everything on ``close()``.

    Stream handlers that would print to the terminal are detached while the capture is active,
    since the dashboard owns the terminal.
    """

    def __init__(
        self,
        log_path: Path,
        *,
        capacity: int = 5000,
        level: int = logging.INFO,
        secrets: Iterable[str] = (),
    ) -> None:
        self.log_path = log_path
        self.formatter = RedactingFormatter(secrets)
        self.buffer = LogBuffer(capacity, self.formatter)
        self._level = level
        self._file_handler: logging.FileHandler | None = None
        self._detached: list[logging.Handler] = []
        self._saved_levels: dict[str, int] = {}
        self._saved_last_resort: logging.Handler | None = None

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Redact more values from now on (e.g. the local server's generated secret)."""
        self.formatter.set_secrets([*self.formatter.secrets, *secrets])

    def start(self) -> LogCapture:
        root = logging.getLogger()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._file_handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self._file_handler.setFormatter(self.formatter)
        self._detached = [
            h
            for h in root.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
        ]
        for handler in self._detached:
            root.removeHandler(handler)
        root.addHandler(self.buffer)
        root.addHandler(self._file_handler)
        for name in ("", *CAPTURED_LOGGERS):
            logger = logging.getLogger(name)
            self._saved_levels[name] = logger.level
            if name == "" or logger.level == logging.NOTSET or logger.level > self._level:
                logger.setLevel(self._level)
        # Without this, records with no handler at all end up on stderr via lastResort.
        self._saved_last_resort = logging.lastResort
        logging.lastResort = None
        return self

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.buffer)
        if self._file_handler is not None:
            root.removeHandler(self._file_handler)
            self._file_handler.close()
            self._file_handler = None
        for handler in self._detached:
            root.addHandler(handler)
        self._detached = []
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)
        self._saved_levels = {}
        logging.lastResort = self._saved_last_resort

    def __enter__(self) -> LogCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_log_path() -> Path:
    """``$DISPATCH_TUI_LOG_DIR`` or ``~/.local/state/dispatch-tui/logs``, one file per run."""
    base = os.environ.get("DISPATCH_TUI_LOG_DIR") or str(
        Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
        / "dispatch-tui"
        / "logs"
    )
    return Path(base) / f"dispatch-tui-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
