"""The worker log's errors as a source of events: counted on any thread, reported on a poll.

A logging handler must never post a message per record (an error storm would flood the app),
so :class:`LogErrorCounter` only counts under a lock; whoever polls (the room watch) turns the
count into a :class:`~tui.core.infra_events.WorkerLogErrors` event when it changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from tui.core.diagnostics.check import one_line
from tui.core.infra_events import WorkerLogErrors
from tui.core.redaction import redact, redact_tokens


class LogErrorCounter(logging.Handler):
    """Counts ERROR records of any thread, redacted, the last one kept on one line.

    Attach it to the root logger next to the log capture; :meth:`take` reports the count.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        secrets: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        super().__init__(logging.ERROR)
        self._clock = clock
        self._secrets = secrets
        """A callable returning the secrets to redact (e.g. the capture formatter's)."""
        self._lock = threading.Lock()
        self._count = 0
        self._last = ""
        self._last_at = 0.0
        self._reported = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            secrets = list(self._secrets()) if self._secrets is not None else []
            text = one_line(redact_tokens(redact(f"{record.name}: {record.getMessage()}", secrets)))
            with self._lock:
                self._count += 1
                self._last, self._last_at = text, self._clock()
        except Exception:  # a broken record must not break the thread that logged it
            self.handleError(record)

    def take(self) -> WorkerLogErrors | None:
        """The errors so far as an event, or None when none came since the last call."""
        with self._lock:
            if self._count == self._reported:
                return None
            self._reported = self._count
            return WorkerLogErrors(self._count, self._last, self._last_at)
