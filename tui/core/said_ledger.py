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

At a departure, only lines after the last one heard count, and never more than the
attribute's count says are missing: a line heard with other words (a realtime transcript) is
not recovered twice, and a late joiner does not get earlier lines appended at the end.
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


def _same(one: str, other: str) -> bool:
    return " ".join(one.split()) == " ".join(other.split())


def unheard(said: SaidLines, heard: list[str]) -> list[str]:
    """The newest lines of ``said`` after the last one in ``heard`` (in order), at most as many
    as ``said.count`` exceeds the lines heard."""
    owed = said.count - len(heard)
    if owed <= 0:
        return []
    window = list(said.lines)
    after = 0
    for text in heard:
        for index in range(after, len(window)):
            if _same(window[index], text):
                after = index + 1
                break
    tail = window[after:]
    return tail[-owed:] if tail else []


@dataclass
class _Speaker:
    heard: list[str] = field(default_factory=list)
    cut: list[tuple[str, str]] = field(default_factory=list)
    """``(segment_id, track_id)`` of segments that started and never became final."""
    said: SaidLines | None = None


class SaidLedger:
    """Per participant: the final lines heard, the segments cut, and its latest said lines."""

    def __init__(self, room: str) -> None:
        self._room = room
        self._speakers: dict[str, _Speaker] = {}

    def seen(self, event: DomainEvent) -> None:
        """Keep what ``event`` (an event the observer emitted) says about lines."""
        if isinstance(event, TranscriptSegment):
            speaker = self._speakers.setdefault(event.identity, _Speaker())
            started = (event.segment_id, event.track_id)
            speaker.cut = [seg for seg in speaker.cut if seg[0] != event.segment_id]
            if event.final:
                if event.text.strip():
                    speaker.heard.append(event.text.strip())
            else:
                speaker.cut.append(started)
        elif isinstance(event, ParticipantJoined) or (
            # state changes come several times a second: parse the lines only when they changed
            isinstance(event, AttributesChanged) and SAID_LINES_ATTRIBUTE in dict(event.changed)
        ):
            said = decode_said(dict(event.attributes).get(SAID_LINES_ATTRIBUTE, ""))
            if said is not None:
                self._speakers.setdefault(event.identity, _Speaker()).said = said

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
        if speaker is None or speaker.said is None:
            return []
        lines = unheard(speaker.said, speaker.heard)
        segments: list[TranscriptSegment] = []
        cut = list(speaker.cut)
        first_index = speaker.said.count - len(lines)
        for offset, text in enumerate(lines):
            # the cut streams are the newest lines' (a line is one stream): pair from the end
            slot = len(cut) - len(lines) + offset
            segment_id, track_id = (
                cut[slot] if slot >= 0 else (_said_id(identity, first_index + offset), "")
            )
            segments.append(self._final(identity, segment_id, text, track_id))
        return segments
