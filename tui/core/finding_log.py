"""The troubleshooting checks as they changed over a call: markers for the timeline, and the
latest result of each check.

Fed live by the dashboard's renderer with each evaluation (:meth:`FindingLog.note`), and in a
replay with the record's :class:`~tui.core.record.notes.Finding` events
(:meth:`FindingLog.apply`): either way a check's change of status is one :class:`FindingMark`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from tui.core.diagnostics.check import Check, Status
from tui.core.record.notes import Finding

MARKS_KEPT: Final = 500


@dataclass(frozen=True, slots=True)
class FindingMark:
    """A check changed to ``status`` at ``at`` (a warning, a failure, or back to ok)."""

    at: float
    check_id: str
    title: str
    status: str
    finding: str


class FindingLog:
    """Status changes of the checks of one room; see the module docstring."""

    def __init__(self) -> None:
        self._latest: dict[str, Check] = {}
        self.marks: deque[FindingMark] = deque(maxlen=MARKS_KEPT)
        """Changes to warn or fail, and back to ok from them, oldest first."""

    def reset(self) -> None:
        self._latest.clear()
        self.marks.clear()

    def note(self, checks: Iterable[Check], at: float) -> None:
        """The checks as evaluated at ``at``: each change of status is marked."""
        for check in checks:
            self._change(check, at)

    def apply(self, finding: Finding) -> None:
        """A recorded finding (a replay)."""
        status: Status = finding.status  # type: ignore[assignment]
        check = Check(finding.check_id, finding.title, status, finding.finding, finding.fix)
        self._change(check, finding.at)

    def _change(self, check: Check, at: float) -> None:
        before = self._latest.get(check.id)
        self._latest[check.id] = check
        if before is not None and before.status == check.status:
            return
        was_bad = before is not None and before.status in ("warn", "fail")
        if check.status in ("warn", "fail") or (check.status == "ok" and was_bad):
            self.marks.append(FindingMark(at, check.id, check.title, check.status, check.finding))

    def latest(self) -> list[Check]:
        """Each check's last result, in the order the checks first appeared."""
        return list(self._latest.values())
