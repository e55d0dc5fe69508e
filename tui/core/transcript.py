"""Assembling one participant's transcript from ``lk.transcription`` segments.

A segment streams in as interim texts and ends with a final one; segments may arrive late,
repeated or reordered. Open segments are kept by segment id (capped) and finished ones move to
the participant's capped transcript.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from tui.core.agent_view import IN_PROGRESS_CAP, AgentView, TranscriptLine
from tui.core.events import TranscriptSegment


def apply_segment(
    view: AgentView,
    event: TranscriptSegment,
    finish: Callable[[AgentView, TranscriptLine], None],
) -> bool:
    """Apply one segment update to ``view``; ``finish`` files a finished line. True if the
    transcript changed."""
    view.counters.transcript_updates += 1
    line = view.in_progress.get(event.segment_id)
    if line is None:
        done = _recent(view.transcript, event.segment_id)
        if done is not None:
            # The segment was already finished: a repeated final corrects it, a late or
            # reordered interim never reopens it (a final is authoritative), and text
            # arriving after its speaker left (a stream still being read) completes it.
            if not (event.final or not done.final):
                return False
            changed = done.text != event.text or (event.final and not done.final)
            done.text, done.updated_at = event.text, event.at
            if event.final and not done.final:
                done.final = True
                view.counters.segments_final += 1
            return changed
        line = TranscriptLine(
            identity=event.identity,
            segment_id=event.segment_id,
            text=event.text,
            final=False,
            started_at=event.at,
            updated_at=event.at,
            track_id=event.track_id,
        )
    line.text, line.updated_at = event.text, event.at
    line.track_id = event.track_id or line.track_id
    if event.final or not view.connected:
        # A departed speaker's segment cannot stay open: nobody would ever close it.
        view.in_progress.pop(event.segment_id, None)
        if event.final:
            line.final = True
            view.counters.segments_final += 1
        finish(view, line)
    else:
        view.in_progress[event.segment_id] = line
        while len(view.in_progress) > IN_PROGRESS_CAP:
            oldest = next(iter(view.in_progress))
            finish(view, view.in_progress.pop(oldest))
    return True


def _recent(lines: deque[TranscriptLine], segment_id: str) -> TranscriptLine | None:
    """The finished line for ``segment_id`` among the last few (bounded: O(1) per event)."""
    for index in range(len(lines) - 1, max(-1, len(lines) - 1 - IN_PROGRESS_CAP * 2), -1):
        if lines[index].segment_id == segment_id:
            return lines[index]
    return None
