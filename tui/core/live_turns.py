"""Who is speaking, from the audio itself, and the call's turn-taking, live.

:class:`LiveTurns` is fed every event of the observed room by
:meth:`tui.core.room_model.RoomModel.apply`. Each participant's received audio level (an
:class:`~tui.core.events.AudioLevel` every 0.2 s in the dashboard) goes through a
:class:`~tui.core.record.speech.SpeechDetector` with the call record's thresholds, so the
dashboard, the record and its report agree on who spoke when. The server's active-speaker
updates lag the audio by a few hundred milliseconds; the level does not.

- :meth:`LiveTurns.audible`: the panes' speaking indicator. It follows the detector's
  hysteresis (word gaps do not blink it off) but gives the floor away at once: an agent in the
  quiet tail of its turn stops showing as speaking as soon as another one is heard.
- :attr:`LiveTurns.sweep`: the turn-taking figures of :mod:`tui.core.record.analytics`
  (response gaps, overlaps, dead air, longest turn, deadlocks), for any number of agents,
  computed incrementally (:class:`~tui.core.record.sweep.TurnSweep`).
- :meth:`LiveTurns.intervals` and :meth:`LiveTurns.states`: what the timeline draws.

Agents are participants of kind ``agent`` or with a role; the call window runs from the moment
the last of them joined to ``conversation_ended`` (else the first departure), as in the report.
Pure: times come from the events; nothing here reads a clock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Final

from agents.constants import AGENT_STATE_ATTRIBUTE
from tui.core.agent_view import classify
from tui.core.events import (
    DOMAIN_EVENT_TYPES,
    AttributesChanged,
    AudioLevel,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    SessionEvent,
    WatchEvent,
)
from tui.core.record.analytics import Interval, Stretch, TurnThresholds, overlaps
from tui.core.record.speech import SpeechDetector, SpeechThresholds
from tui.core.record.sweep import TurnSweep

INTERVALS_KEPT: Final = 2_000
"""Closed speaking intervals kept per participant for drawing (an hour of talk)."""
STATES_KEPT: Final = 2_000
STALE_S: Final = 2.0
"""A participant whose levels stopped this long ago (track gone, observer stalled) no longer
holds the sweep back: its interval in progress is closed as the detector would close it."""
SAME_TICK_S: Final = 0.05
"""Levels of different tracks measured this close together come from one metering tick."""
SETTLE_S: Final = 0.5
"""The sweep stays this far behind the newest event: levels of different tracks arrive a little
out of order."""


@dataclass(slots=True)
class Speaker:
    """One participant's audio as heard: its detector and what it has said."""

    detector: SpeechDetector
    last_at: float = float("-inf")
    quiet: bool = True
    """The last level was below the detector's lower threshold (or none is open)."""
    loud_at: float = float("-inf")
    """When the last audible level (of the interval in progress) was measured."""
    opened_at: float = float("-inf")
    """When the level that opened the interval in progress was measured."""
    intervals: list[tuple[float, float]] = field(default_factory=list)
    """Closed intervals, oldest first (the oldest half goes past :data:`INTERVALS_KEPT`)."""

    @property
    def open(self) -> tuple[float, float] | None:
        """The interval in progress (start, last audible), None while silent."""
        start, end = self.detector.speaking_since, self.detector.speaking_until
        return None if start is None or end is None else (start, end)

    @property
    def loud(self) -> bool:
        """Speaking, and its last level was audible."""
        return self.open is not None and not self.quiet


@dataclass(slots=True)
class Agent:
    """An agent of the call: name, presence and ``lk.agent.state`` history."""

    name: str
    joined_at: float
    left_at: float | None = None
    states: list[tuple[float, str]] = field(default_factory=list)
    """``(at, lk.agent.state)`` changes, oldest first (bounded like intervals)."""


class LiveTurns:
    """Speaking and turn-taking of the observed room; see the module docstring."""

    def __init__(
        self, speech: SpeechThresholds | None = None, turns: TurnThresholds | None = None
    ) -> None:
        self.speech = speech or SpeechThresholds()
        self.turn_thresholds = turns or TurnThresholds()
        self.room = ""
        self.now = float("-inf")
        """The newest event's time."""
        self.sweep = TurnSweep(self.turn_thresholds)
        self.speakers: dict[str, Speaker] = {}
        self.agents: dict[str, Agent] = {}
        self.ended_at: float | None = None
        """When the call ended (``conversation_ended``), None while it goes on."""

    def reset(self, room: str) -> None:
        """Forget everything and follow ``room``."""
        self.__init__(self.speech, self.turn_thresholds)  # type: ignore[misc]
        self.room = room

    # -- inputs

    def apply(self, event: WatchEvent) -> bool:
        """Note one event; True when someone's :meth:`audible` changed (draw it at once)."""
        if not isinstance(event, DOMAIN_EVENT_TYPES) or event.room != self.room or not self.room:
            return False  # the room's own events only: their times are the call's
        self.now = max(self.now, event.at)
        changed = False
        if isinstance(event, AudioLevel):
            changed = self._level(event)
        elif isinstance(event, ParticipantJoined):
            self._joined(event)
        elif isinstance(event, AttributesChanged):
            if event.identity in self.agents:
                self._state(event.identity, dict(event.attributes), event.at)
        elif isinstance(event, ParticipantLeft):
            changed = self._flush(event.identity, event.at)
            agent = self.agents.get(event.identity)
            if agent is not None:
                agent.left_at = event.at
                self._update_window()
        elif isinstance(event, SessionEvent) and event.kind == "conversation_ended":
            if self.ended_at is None:
                self.ended_at = event.at
                self._update_window()
        elif isinstance(event, ObserverStatus) and event.state in ("disconnected", "failed"):
            for identity in list(self.speakers):
                changed |= self._flush(identity, event.at)
        changed |= self._settle()
        return changed

    def _joined(self, event: ParticipantJoined) -> None:
        attributes = dict(event.attributes)
        role = classify(event.identity, event.name, event.kind, attributes).role
        if event.kind != "agent" and role == "standard":
            return
        agent = self.agents.get(event.identity)
        if agent is None:
            agent = self.agents[event.identity] = Agent(event.name or event.identity, event.at)
        agent.name, agent.left_at = event.name or agent.name, None
        self._state(event.identity, attributes, event.at)
        self._update_window()

    def _state(self, identity: str, attributes: dict[str, str], at: float) -> None:
        value = attributes.get(AGENT_STATE_ATTRIBUTE)
        states = self.agents[identity].states
        if value and (not states or states[-1][1] != value):
            states.append((at, value))
            _bound(states, STATES_KEPT)
            self.sweep.add_state(identity, at, value)

    def _update_window(self) -> None:
        """From the last agent's join to the end of the conversation (else the first
        departure after it), as :func:`tui.core.record.report_json.build_report` has it."""
        if not self.agents:
            return
        start = max(agent.joined_at for agent in self.agents.values())
        end = self.ended_at
        if end is None:
            leaves = [a.left_at for a in self.agents.values() if a.left_at is not None]
            end = min((left for left in leaves if left >= start), default=None)
        self.sweep.set_window(start, end)

    def _level(self, event: AudioLevel) -> bool:
        speaker = self.speakers.get(event.identity)
        if speaker is None:
            speaker = self.speakers[event.identity] = Speaker(SpeechDetector(self.speech))
        before = self._audible_now()
        was_open = speaker.open
        closed = speaker.detector.add(event.rms_dbfs, event.at)
        speaker.last_at = event.at
        if closed is not None:
            self._closed(event.identity, speaker, closed)
        speaker.quiet = speaker.open is None or event.rms_dbfs < self.speech.off_dbfs
        if not speaker.quiet:
            speaker.loud_at = event.at
            if was_open is None or closed is not None:
                speaker.opened_at = event.at
        return self._audible_now() != before

    def _audible_now(self) -> set[str]:
        return {identity for identity in self.speakers if self.audible(identity)}

    def _closed(self, identity: str, speaker: Speaker, interval: tuple[float, float]) -> None:
        speaker.intervals.append(interval)
        _bound(speaker.intervals, INTERVALS_KEPT)
        self.sweep.add_speech(identity, *interval)

    def _flush(self, identity: str, at: float) -> bool:
        speaker = self.speakers.get(identity)
        if speaker is None or speaker.open is None:
            return False
        before = self._audible_now()
        closed = speaker.detector.flush()
        if closed is not None:
            self._closed(identity, speaker, closed)
        speaker.quiet = True
        return self._audible_now() != before

    def _settle(self) -> bool:
        """Close the intervals of stale participants and sweep what can no longer change."""
        changed = False
        horizon = self.now - SETTLE_S
        for identity, speaker in self.speakers.items():
            opened = speaker.open
            if speaker.last_at < self.now - STALE_S:
                changed |= self._flush(identity, self.now)
            elif opened is not None:
                horizon = min(horizon, opened[0])
            else:
                horizon = min(horizon, speaker.last_at)
        self.sweep.advance(horizon)
        return changed

    def finish(self) -> None:
        """The call is over (a replay reached its end): close everything and sweep it all."""
        for identity in list(self.speakers):
            self._flush(identity, self.now)
        self.sweep.finish()

    # -- reading

    def audible(self, identity: str) -> bool:
        """Whether ``identity`` is speaking now, as heard in its audio: its interval is open
        (hysteresis and hangover), and nobody else took the floor: someone else audible who
        started after this one and has been heard since this one was last (at a handover both
        tracks' levels can cover the same 0.2 s, one's last word and the other's first), or
        anyone else audible while this one is in its quiet tail."""
        speaker = self.speakers.get(identity)
        if speaker is None or speaker.open is None:
            return False
        for other in self.speakers.values():
            if other is speaker or not other.loud:
                continue
            started = other.open[0] if other.open is not None else float("-inf")
            later = started > speaker.open[0]
            if speaker.quiet or (later and speaker.loud_at <= other.opened_at + SAME_TICK_S):
                return False
        return True

    def intervals(self, identity: str) -> list[tuple[float, float]]:
        """``identity``'s speaking intervals, oldest first, the one in progress last."""
        speaker = self.speakers.get(identity)
        if speaker is None:
            return []
        opened = speaker.open
        return [*speaker.intervals, *([opened] if opened is not None else [])]

    def states(self, identity: str) -> list[tuple[float, str]]:
        agent = self.agents.get(identity)
        return list(agent.states) if agent is not None else []

    def intervals_between(self, identity: str, start: float, end: float) -> list[Interval]:
        """``identity``'s intervals that overlap ``start``-``end`` (the one in progress ends at
        ``end``): found by bisection, so drawing a window costs what is in it."""
        speaker = self.speakers.get(identity)
        if speaker is None:
            return []
        closed = speaker.intervals
        first = bisect.bisect_left(closed, start, key=lambda interval: interval[1])
        found = []
        for interval in closed[first:]:
            if interval[0] >= end:
                break
            found.append(interval)
        if speaker.open is not None and speaker.open[0] < end:
            found.append((speaker.open[0], end))
        return found

    def states_between(self, identity: str, start: float, end: float) -> list[tuple[float, str]]:
        """``identity``'s state at ``start`` (dated ``start``) and its changes until ``end``."""
        agent = self.agents.get(identity)
        if agent is None:
            return []
        states = agent.states
        first = max(0, bisect.bisect_right(states, start, key=lambda change: change[0]) - 1)
        found = []
        for at, state in states[first:]:
            if at >= end:
                break
            found.append((max(at, start), state))
        return found

    def lanes(self) -> list[str]:
        """Identities to draw: agents in join order, then anyone else heard speaking."""
        heard = [i for i, s in self.speakers.items() if s.intervals or s.open is not None]
        return [*self.agents, *(identity for identity in heard if identity not in self.agents)]

    def name(self, identity: str) -> str:
        agent = self.agents.get(identity)
        return agent.name if agent is not None else identity

    def present(self) -> int:
        """Agents in the room now."""
        return sum(1 for agent in self.agents.values() if agent.left_at is None)

    def overlap_s(self, now: float) -> float:
        """Seconds two or more were audible at once so far: what the sweep counted, plus what
        it has not reached yet (from its horizon to ``now``, intervals in progress included)."""
        sweep = self.sweep
        start = sweep.horizon
        total = sweep.overlap_total
        if sweep.overlap_since is not None:
            total += max(0.0, start - sweep.overlap_since)
        spans: dict[str, list[tuple[float, float]]] = {}
        for identity, speaker in self.speakers.items():
            recent: list[tuple[float, float]] = []
            for a, b in reversed(speaker.intervals):
                if b <= start:
                    break
                recent.append((max(a, start), min(b, now)))
            if speaker.open is not None:
                recent.append((max(speaker.open[0], start), now))
            spans[identity] = [(a, b) for a, b in recent if b > a]
        return total + sum(stretch.seconds for stretch in overlaps(spans, 0.0))

    def quiet_together(self, now: float) -> tuple[Stretch, bool] | None:
        """The latest stretch of every agent listening and nobody audible that the sweep has
        not closed yet, up to ``now``, and whether it still goes on (None: there is none)."""
        sweep = self.sweep
        if sweep.quiet_since is None or sweep.listening_since is None:
            return None
        window_start = sweep.window_start
        if window_start is None:
            return None
        start = max(sweep.quiet_since, sweep.listening_since, window_start)
        # it ends at the first thing the sweep has not reached: speech, a state change
        cuts = [s.open[0] for s in self.speakers.values() if s.open is not None]
        cuts += [t for t in (sweep.next_pending, sweep.window_end) if t is not None]
        end = min([now, *cuts])
        if end <= start:
            return None
        return Stretch(start, end, tuple(sorted(self.agents))), end >= now


def _bound(items: list[Any], cap: int) -> None:
    """Drop the older half of ``items`` once it holds more than ``cap``."""
    if len(items) > cap:
        del items[: len(items) // 2]
