"""What a diagnosis is: a :class:`Check`, its status, the thresholds, and how checks sum up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

Status: TypeAlias = Literal["ok", "warn", "fail", "pending"]
STATUS_ORDER: Final[dict[Status, int]] = {"ok": 0, "pending": 1, "warn": 2, "fail": 3}
"""Severity for :func:`worst`: a failure outranks a warning, which outranks "not known yet"."""


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnosis: what was checked, how it stands, what was found and what to do."""

    id: str
    title: str
    status: Status
    finding: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long a condition may last before it counts as a failure (seconds)."""

    dispatch_job_s: float = 3.0
    """A dispatch with no job and no agent in the room after this long was not accepted."""
    agent_join_s: float = 5.0
    """Grace for an agent to appear after observing starts (a job takes about 1 s locally)."""
    track_grace_s: float = 3.0
    """Grace for an agent's audio track to be published after it joined, and subscribed after
    it was published. A healthy agent publishes about 0.6 s after joining and the observer
    subscribes within about 0.3 s. The join is dated by the server (the observer reports it), so
    the ~2.8 s the server takes to announce a participant that publishes nothing are part of the
    grace, not added to it: a missing track is reported about 3 s after the agent joined."""
    silent_speaking_s: float = 1.5
    """An agent "speaking" (``lk.agent.state``) with a silent track for this long fails."""
    silent_track_s: float = 30.0
    """A subscribed track with no sound at all for this long earns a warning."""
    one_sided_s: float = 20.0
    """One agent spoke and the other has said nothing for this long."""
    overlap_s: float = 1.0
    """Both agents audible at once for this long in total fails (the relay never overlaps)."""
    worker_start_s: float = 15.0
    """The in-process worker still not registered after this long earns a warning."""
    log_recent_s: float = 60.0
    """Worker-log errors younger than this fail; older ones only warn."""
    slow_reply_s: float = 3.0
    """A reply that starts this long after the agent was asked earns a warning (a realtime
    model answers in about 1 s; the offline voice in a fraction of one)."""


def worst(checks: Sequence[Check]) -> Status:
    """The most severe status (``ok`` for no checks)."""
    return max((check.status for check in checks), key=STATUS_ORDER.__getitem__, default="ok")


def summary(checks: Sequence[Check]) -> str:
    """One line for the header: ``checks: 2 fail (dispatch.job, room.driver)`` or ``all ok``."""
    state = worst(checks)
    if state == "ok":
        return f"checks: all {len(checks)} ok"
    bad = [check.id for check in checks if check.status == state]
    shown = ", ".join(bad[:3]) + (", …" if len(bad) > 3 else "")
    return f"checks: {len(bad)} {state} ({shown})"


def one_line(value: object) -> str:
    """Any value as one line of text: whitespace runs, newlines included, become one space."""
    return " ".join(str(value).split())
