"""``report.json``: the summary of one call record, built from its events alone.

:func:`build_report` reads the events of ``events.jsonl`` (on the record's clock: seconds since
the recording started) and returns the report object; ``dispatch-tui report`` and a later replay
read the same files. See docs/architecture.md ("The call record") for every key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agents.constants import AGENT_STATE_ATTRIBUTE
from tui.core.diagnostics.check import STATUS_ORDER
from tui.core.diagnostics.turn_taking import turn_checks
from tui.core.events import (
    AttributesChanged,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    SessionEvent,
    TranscriptSegment,
)
from tui.core.record.analytics import TurnThresholds, percentile, turn_taking
from tui.core.record.codec import read_events
from tui.core.record.notes import (
    AudioFile,
    Finding,
    LogError,
    RecordClosed,
    RecordStarted,
    Speech,
)
from tui.core.record.store import EVENTS_FILE
from tui.core.roles import DEFAULT_AGENTS, DEFAULT_RULES, RoleRules, agents_from_metadata

PIPELINE: Final = (
    ("llm_node_ttft", "llm_ttft_s"),
    ("tts_node_ttfb", "tts_ttfb_s"),
    ("e2e_latency", "e2e_s"),
)
"""Timings of the agents' ``turn`` session events, and their names in the report."""


@dataclass(slots=True)
class _Agent:
    identity: str
    name: str = ""
    kind: str = "standard"
    attributes: dict[str, str] = field(default_factory=dict)
    joined: float | None = None
    left: float | None = None
    states: list[tuple[float, str]] = field(default_factory=list)
    speech: list[tuple[float, float]] = field(default_factory=list)
    rules: RoleRules = DEFAULT_RULES
    """The room's role rules (its scenario's agents, from the observer's metadata)."""

    @property
    def role(self) -> str:
        return self.rules.classify(self.identity, self.name, self.kind, self.attributes).role

    def state(self, at: float) -> None:
        value = self.attributes.get(AGENT_STATE_ATTRIBUTE)
        if value and (not self.states or self.states[-1][1] != value):
            self.states.append((at, value))


@dataclass(slots=True)
class _Segment:
    identity: str
    start: float
    end: float
    text: str = ""
    final: bool = False


def load_events(run_dir: Path) -> list[Any]:
    """Every event of a run directory's ``events.jsonl`` (:class:`RecordError` if unreadable)."""
    return list(read_events(run_dir / EVENTS_FILE))


def build_report(events: Iterable[Any], thresholds: TurnThresholds | None = None) -> dict[str, Any]:
    """The report object of a record's events (see the module docstring)."""
    agents: dict[str, _Agent] = {}
    segments: dict[str, _Segment] = {}
    timings: dict[str, dict[str, list[float]]] = {}
    findings: dict[str, Finding] = {}
    log_errors: list[LogError] = []
    audio: dict[str, AudioFile] = {}
    started: RecordStarted | None = None
    closed: RecordClosed | None = None
    ended: tuple[float, str] | None = None
    rules = DEFAULT_RULES
    count = 0

    def agent(identity: str) -> _Agent:
        return agents.setdefault(identity, _Agent(identity))

    for event in events:
        count += 1
        if isinstance(event, RecordStarted):
            started = event
        elif isinstance(event, RecordClosed):
            closed = event
        elif isinstance(event, ParticipantJoined):
            view = agent(event.identity)
            view.name, view.kind = event.name or view.name, event.kind
            view.attributes = dict(event.attributes)
            view.joined = event.at if view.joined is None else view.joined
            view.left = None
            view.state(event.at)
        elif isinstance(event, AttributesChanged):
            view = agent(event.identity)
            view.attributes = dict(event.attributes)
            view.state(event.at)
        elif isinstance(event, ParticipantLeft):
            agent(event.identity).left = event.at
        elif isinstance(event, Speech):
            agent(event.identity).speech.append((event.start, event.end))
        elif isinstance(event, TranscriptSegment):
            segment = segments.setdefault(
                event.segment_id, _Segment(event.identity, event.at, event.at)
            )
            segment.end, segment.final = event.at, event.final
            segment.text = event.text or segment.text
        elif isinstance(event, SessionEvent):
            if event.kind == "turn":
                series = timings.setdefault(event.role, {})
                for key, _ in PIPELINE:
                    value = event.payload.get(key)
                    if isinstance(value, int | float) and value >= 0:
                        series.setdefault(key, []).append(float(value))
                series.setdefault("turns", []).append(event.at)
            elif event.kind == "conversation_ended" and ended is None:
                ended = (event.at, str(event.payload.get("reason") or "conversation ended"))
        elif isinstance(event, ObserverStatus) and event.metadata:
            rules = RoleRules(agents_from_metadata(event.metadata) or DEFAULT_AGENTS)
        elif isinstance(event, Finding):
            findings[event.check_id] = event
        elif isinstance(event, LogError):
            log_errors.append(event)
        elif isinstance(event, AudioFile):
            audio[event.identity] = event
    if started is None:
        raise ValueError("the record has no RecordStarted line (not a call record)")
    for each in agents.values():
        each.rules = rules

    end_at = (
        closed.at
        if closed is not None
        else max((a.left or a.joined or 0.0 for a in agents.values()), default=0.0)
    )
    present = [a for a in agents.values() if a.kind == "agent" or a.role != "standard"]
    window = _call_window(present, ended, end_at)
    tt = turn_taking(
        {a.identity: a.speech for a in agents.values() if a.speech},
        window,
        {a.identity: a.states for a in present if a.states} or None,
        thresholds,
    )
    names = {a.identity: a.name for a in agents.values()}
    shown = sorted(
        (a for a in agents.values() if a in present or a.speech),
        key=lambda a: (a.joined if a.joined is not None else float("inf"), a.identity),
    )
    return {
        "room": started.room,
        "scenario": started.scenario,
        "started_at": started.started_at,
        "ended_at": closed.ended_at if closed is not None else None,
        "ended_reason": _ended_reason(ended, closed, present),
        "duration_s": round(end_at, 3),
        "call_window_s": None if window is None else [round(window[0], 3), round(window[1], 3)],
        "agents": {
            a.identity: _agent_summary(
                a, tt.turns_of(a.identity), tt.gaps_before(a.identity), timings.get(a.role, {})
            )
            for a in shown
        },
        "turn_taking": tt.summary(),
        "transcript": [
            {
                "identity": s.identity,
                "text": s.text,
                "start_s": round(s.start, 3),
                "end_s": round(s.end, 3),
                "final": s.final,
            }
            for s in sorted(segments.values(), key=lambda s: s.start)
            if s.text.strip()
        ],
        "timeline": {
            "speech": {
                a.identity: [[round(s, 3), round(e, 3)] for s, e in sorted(a.speech)] for a in shown
            },
            "states": {a.identity: [[round(t, 3), s] for t, s in a.states] for a in shown},
            "overlaps": [[round(s.start, 3), round(s.end, 3)] for s in tt.overlaps],
            "dead_air": [[round(s.start, 3), round(s.end, 3)] for s in tt.dead_air],
            "deadlocks": [[round(s.start, 3), round(s.end, 3)] for s in tt.deadlocks or ()],
        },
        "findings": _findings(findings, log_errors, turn_checks(tt, names)),
        "recording": {
            "events": count,
            "dropped": closed.dropped if closed is not None else None,
            "audio_cut": closed.audio_cut if closed is not None else None,
            "complete": closed is not None,
            "audio": {
                identity: {
                    "file": a.file,
                    "start_s": round(a.start, 3),
                    "seconds": round(a.seconds, 3),
                    "sample_rate": a.sample_rate,
                    "filled_s": round(a.filled_s, 3),
                }
                for identity, a in audio.items()
            },
        },
    }


def _call_window(
    agents: list[_Agent], ended: tuple[float, str] | None, end_at: float
) -> tuple[float, float] | None:
    """From the moment every agent was in the room to the conversation's end (else the first
    departure, else the end of the recording)."""
    joins = [a.joined for a in agents if a.joined is not None]
    if not joins:
        return None
    start = max(joins)
    leaves = [a.left for a in agents if a.left is not None and a.left >= start]
    end = ended[0] if ended is not None else min(leaves, default=end_at)
    return (start, end) if end > start else None


def _ended_reason(
    ended: tuple[float, str] | None, closed: RecordClosed | None, agents: list[_Agent]
) -> str:
    if ended is not None:
        return ended[1]
    if agents and all(a.left is not None for a in agents):
        return "agents left"
    return closed.reason if closed is not None else "recording cut short"


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "p50": _round(percentile(values, 50)),
        "p95": _round(percentile(values, 95)),
        "count": len(values),
    }


def _agent_summary(
    agent: _Agent, turns: list[Any], gaps: list[float], timings: dict[str, list[float]]
) -> dict[str, Any]:
    return {
        "name": agent.name,
        "role": agent.role,
        "turns": len(turns),
        "speaking_s": round(sum(e - s for s, e in agent.speech), 3),
        "latency": _stats(gaps),
        "pipeline": {name: _stats(timings.get(key, [])) for key, name in PIPELINE},
        "relay_turns": len(timings.get("turns", [])),
        "joined_s": _round(agent.joined),
        "left_s": _round(agent.left),
    }


def _findings(
    recorded: dict[str, Finding], log_errors: list[LogError], checks: list[Any]
) -> list[dict[str, Any]]:
    # the checks computed over the whole record replace the live ones of the same id
    computed = {c.id for c in checks}
    found = [
        {
            "id": f.check_id,
            "title": f.title,
            "status": f.status,
            "finding": f.finding,
            "fix": f.fix,
            "at_s": round(f.at, 3),
        }
        for f in recorded.values()
        if f.check_id not in computed
    ]
    found += [
        {
            "id": c.id,
            "title": c.title,
            "status": c.status,
            "finding": c.finding,
            "fix": c.fix,
            "at_s": _live_at(recorded.get(c.id), c.status),
        }
        for c in checks
    ]
    if log_errors:
        last = log_errors[-1]
        found.append(
            {
                "id": "worker.log",
                "title": "Worker log",
                "status": "fail",
                "finding": f"{len(log_errors)} error{'s' if len(log_errors) != 1 else ''} in "
                f"the worker log, last from {last.logger}: {last.message}",
                "fix": "read the worker log around that time",
                "at_s": round(last.at, 3),
            }
        )
    return sorted(found, key=lambda f: -STATUS_ORDER.get(f["status"], 0))


def _live_at(live: Finding | None, status: str) -> float | None:
    """When the live check came to the same status, if it did."""
    return round(live.at, 3) if live is not None and live.status == status else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
