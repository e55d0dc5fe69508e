"""Lines an agent said that its transcript streams did not bring: recovered when it leaves.

Each agent keeps its lines in a participant attribute (:mod:`agents.said_lines`), which reaches
an observer in order with the agent's departure, while its transcript streams travel on the data
channel: measured on a busy machine, seconds behind the departure, and a stream still open when
the SDK hears of the departure is cut. When an agent leaves, the observer waits a moment for
:meth:`SaidLedger.owed` lines, then asks :meth:`SaidLedger.recover` for the ones still missing
and emits them as final segments: a stream that was cut keeps its segment id (its partial text
is replaced), a line never started gets an id of its own.

An observer that joins after an agent spoke gets that agent's earlier lines from the same
attribute (:meth:`SaidLedger.history`): LiveKit replays no transcript to a late joiner.

At a departure, every line of the attribute that no heard line matches counts, in order (on a
swamped machine a call's first line never reached an observer while its later lines did), but
never more than the attribute's count says are missing: a line heard with other words (a
realtime transcript) is not recovered twice. A late joiner's earlier lines count as heard once
they are given as history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.constants import SAID_LINES_ATTRIBUTE
from agents.said_lines import SaidLines, decode_said
from tui.core.events import (
    AttributesChanged,
    DomainEvent,
    ParticipantJoined,
    TranscriptSegment,
)


def _said_id(identity: str, index: int) -> str:
    """The segment id of ``identity``'s line ``index`` (from 0) taken from its attribute."""
    return f"said:{identity}:{index}"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _same(one: str, other: str) -> bool:
    return _flat(one) == _flat(other)


def _align(said: SaidLines, heard: list[str]) -> tuple[list[int], int, int]:
    """The window indexes of the lines of ``said`` no line in ``heard`` accounts for (see
    :func:`unheard_at`), the index after the last said line a heard line matched, and how many
    heard lines of the window's time matched none (said in other words)."""
    window = list(said.lines)
    older = said.count - len(window)  # lines said before the window's first
    missing: list[int] = []
    gap_start, in_other_words, anchored, other_words = 0, 0, False, 0
    for text in heard:
        match = next((i for i in range(gap_start, len(window)) if _same(window[i], text)), None)
        if match is None:
            in_other_words += 1
            continue
        accounted = in_other_words if anchored else max(0, in_other_words - older)
        missing.extend(range(gap_start, max(gap_start, match - accounted)))
        gap_start, in_other_words, anchored = match + 1, 0, True
        other_words += accounted
    accounted = in_other_words if anchored else max(0, in_other_words - older)
    missing.extend(range(gap_start + accounted, len(window)))
    return missing, gap_start, other_words + accounted


def unheard_at(said: SaidLines, heard: list[str]) -> list[tuple[int, str]]:
    """``(index, text)`` of the lines of ``said`` that no line in ``heard`` accounts for, in
    order; ``index`` counts from the agent's first line.

    Heard lines are matched to said lines in order. A heard line that matched nothing was said
    in other words (or, before the first match, is older than the attribute keeps): it accounts
    for one unmatched said line of its gap. Which one is a guess from how lines get lost: before
    a line that arrived, the earliest are missing (streams lost as a call starts); after the
    last that arrived, the newest (streams cut by a departure). Never more than ``said.count``
    exceeds the lines heard: the newest of them.
    """
    owed = said.count - len(heard)
    if owed <= 0:
        return []
    missing, _, _ = _align(said, heard)
    older = said.count - len(said.lines)
    return [(older + i, said.lines[i]) for i in missing[-owed:]]


def passed_over(said: SaidLines, heard: list[str], text: str) -> list[tuple[int, str]]:
    """The lines said before ``text`` (a line arriving now) that no heard line accounts for.

    One agent's transcript streams reach an observer in the order it said them (one reliable,
    ordered channel), so an earlier line still missing when a later one arrives was lost: it can
    be recovered in its place rather than at the agent's departure. The attribute lists a line
    once it has been spoken, often after its transcript arrived: a line it does not list is
    taken as the next one, unless this agent's lines were heard in other words (a realtime
    transcript), where it could be one of the listed lines.
    """
    missing, start, other_words = _align(said, heard)
    lines = said.lines
    match = next((i for i in range(start, len(lines)) if _same(lines[i], text)), None)
    if match is None and other_words == 0:
        match, owed = len(lines), said.count - len(heard)
    else:
        owed = said.count - len(heard) - 1
        missing, _, _ = _align(said, [*heard, text])
    if match is None or owed <= 0:
        return []
    older = said.count - len(lines)
    return [(older + i, lines[i]) for i in [i for i in missing if i < match][-owed:]]


def unheard(said: SaidLines, heard: list[str]) -> list[str]:
    """The lines of ``said`` no line in ``heard`` accounts for (see :func:`unheard_at`)."""
    return [text for _, text in unheard_at(said, heard)]


@dataclass(frozen=True)
class _Cut:
    segment_id: str
    track_id: str
    text: str
    """What arrived of it."""


@dataclass
class _Speaker:
    heard: list[str] = field(default_factory=list)
    cut: list[_Cut] = field(default_factory=list)
    """Segments that started and never became final, in the order they started."""
    said: SaidLines | None = None
    sid: str = ""
    """The participant's session id: the same after this observer's own reconnect."""


class SaidLedger:
    """Per participant: the final lines heard, the segments cut, and its latest said lines."""

    def __init__(self, room: str) -> None:
        self._room = room
        self._speakers: dict[str, _Speaker] = {}
        self._gone: dict[str, _Speaker] = {}
        """Departed speakers: one seen joining again with the same session id never left (the
        observer reconnected and heard every participant leave and join)."""

    def seen(self, event: DomainEvent) -> None:
        """Keep what ``event`` (an event the observer emitted) says about lines."""
        if isinstance(event, TranscriptSegment):
            speaker = self._speakers.setdefault(event.identity, _Speaker())
            growing = _Cut(event.segment_id, event.track_id, event.text)
            others = [seg for seg in speaker.cut if seg.segment_id != event.segment_id]
            if event.final:
                speaker.cut = others
                if event.text.strip():
                    speaker.heard.append(event.text.strip())
            elif len(others) == len(speaker.cut):
                speaker.cut.append(growing)
            else:  # in its place: the order streams started in pairs them with lines
                speaker.cut = [
                    growing if seg.segment_id == event.segment_id else seg for seg in speaker.cut
                ]
        if isinstance(event, ParticipantJoined):
            self._joined(event)
        if isinstance(event, ParticipantJoined) or (
            # state changes come several times a second: parse the lines only when they changed
            isinstance(event, AttributesChanged) and SAID_LINES_ATTRIBUTE in dict(event.changed)
        ):
            said = decode_said(dict(event.attributes).get(SAID_LINES_ATTRIBUTE, ""))
            if said is not None:
                self._speakers.setdefault(event.identity, _Speaker()).said = said

    def returning(self, event: ParticipantJoined) -> bool:
        """Whether ``event`` is a departed speaker's same session seen again (this observer
        reconnected), not a new session of that identity."""
        gone = self._gone.get(event.identity)
        return gone is not None and bool(gone.sid) and gone.sid == event.sid

    def _joined(self, event: ParticipantJoined) -> None:
        returning = self.returning(event)
        gone = self._gone.pop(event.identity, None)
        existing = self._speakers.get(event.identity)
        if existing is not None:
            existing.sid = existing.sid or event.sid
            return
        if gone is not None and returning:
            self._speakers[event.identity] = gone  # what it said was heard already
        else:
            self._speakers[event.identity] = _Speaker(sid=event.sid)

    def history(self, identity: str) -> list[TranscriptSegment]:
        """Final segments for the lines ``identity`` said before this observer could hear it
        (it was in the room before the observer joined): every line of its attribute while
        nothing was heard from it. Once; they then count as heard."""
        speaker = self._speakers.get(identity)
        if speaker is None or speaker.said is None or speaker.heard or speaker.cut:
            return []
        first = speaker.said.count - len(speaker.said.lines)
        speaker.heard.extend(speaker.said.lines)
        return [
            self._final(identity, _said_id(identity, first + offset), text, "")
            for offset, text in enumerate(speaker.said.lines)
        ]

    def _final(self, identity: str, segment_id: str, text: str, track_id: str) -> TranscriptSegment:
        return TranscriptSegment(
            room=self._room,
            identity=identity,
            segment_id=segment_id,
            text=text,
            final=True,
            track_id=track_id,
        )

    def passed_over(self, segment: TranscriptSegment) -> list[TranscriptSegment]:
        """Final segments for the lines said before ``segment`` (a final one arriving now) that
        were never heard; once (they then count as heard, before it)."""
        speaker = self._speakers.get(segment.identity)
        if speaker is None or speaker.said is None or not segment.final:
            return []
        lines = passed_over(speaker.said, speaker.heard, segment.text.strip())
        # the arriving segment is no cut stream of the lines before it
        speaker.cut = [seg for seg in speaker.cut if seg.segment_id != segment.segment_id]
        segments = self._finals(segment.identity, lines, speaker)
        speaker.heard.extend(text for _, text in lines)
        return segments

    def _finals(
        self, identity: str, lines: list[tuple[int, str]], speaker: _Speaker
    ) -> list[TranscriptSegment]:
        """Final segments for ``lines``: a cut stream keeps its segment id (its partial text is
        replaced), a line never started gets one of its own. Streams start in the order lines
        are said, so each cut stream, oldest first, is the next line its partial text begins."""
        ids = [(_said_id(identity, index), "") for index, _ in lines]
        next_line = 0
        for cut in speaker.cut:
            for position in range(next_line, len(lines)):
                if _flat(lines[position][1]).startswith(_flat(cut.text)):
                    ids[position] = (cut.segment_id, cut.track_id)
                    next_line = position + 1
                    break
        paired = {segment_id for segment_id, _ in ids}
        speaker.cut = [cut for cut in speaker.cut if cut.segment_id not in paired]
        return [
            self._final(identity, segment_id, text, track_id)
            for (segment_id, track_id), (_, text) in zip(ids, lines, strict=True)
        ]

    def owed(self, identity: str) -> list[str]:
        """The lines ``identity`` said that have not arrived in full (yet)."""
        speaker = self._speakers.get(identity)
        if speaker is None or speaker.said is None:
            return []
        return unheard(speaker.said, speaker.heard)

    def recover(self, identity: str) -> list[TranscriptSegment]:
        """Final segments for the lines ``identity`` said and the observer did not hear in full,
        once (the participant is forgotten)."""
        speaker = self._speakers.pop(identity, None)
        if speaker is not None:
            self._gone[identity] = speaker
        if speaker is None or speaker.said is None:
            return []
        return self._finals(identity, unheard_at(speaker.said, speaker.heard), speaker)
