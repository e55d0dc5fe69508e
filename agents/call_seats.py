"""The seats of a call: each agent's persona, room, session and receipts, and the room options
and the last-lines wait they share (docs/architecture.md, "Facts that shape the worker")."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from livekit import rtc
from livekit.agents import AgentSession, room_io

from agents.room_receipts import PeerReceipts
from agents.said_lines import SaidLinesPublisher
from agents.scenario import Persona, Role
from agents.session_publisher import SessionEventPublisher


def agent_room_options(other_identity: str) -> room_io.RoomOptions:
    """Link to one other agent only; no audio or text input: the relay does turn-taking.

    Transcripts are sent as the text is produced, not paced to the audio: the SDK's
    synchronizer paces words by wall-clock on the job's loop, and on a starved loop (10 calls
    beside a CPU burner on 2 cores) it fell 8 s behind the audio and closed the segment with
    the line's last words unsent ("Great, thanks." for "Great, thanks. Goodbye."), in 1 to 2
    runs of 4. Every line whole matters more to a troubleshooting tool than word timing.
    """
    return room_io.RoomOptions(
        participant_kinds=[rtc.ParticipantKind.PARTICIPANT_KIND_AGENT],
        participant_identity=other_identity,
        close_on_disconnect=False,
        audio_input=False,
        text_input=False,
        audio_output=True,
        text_output=room_io.TextOutputOptions(sync_transcription=False),
    )


@dataclass
class Seat:
    """One agent of the call: its persona, its room (the job's own for the first) and what it
    published there."""

    persona: Persona
    room: rtc.Room
    publisher: SessionEventPublisher
    receipts: PeerReceipts
    """What this agent's room received from the others."""
    linked: str
    """The agent its session links to: the next one in the list, so that every session being
    ready means that every agent joined."""
    session: AgentSession[None] | None = None
    said: SaidLinesPublisher = field(init=False)
    """The lines this agent finished saying, kept as its participant attribute."""

    def __post_init__(self) -> None:
        self.said = SaidLinesPublisher(self.room)

    @property
    def lines_said(self) -> int:
        return len(self.said.lines)

    @property
    def role(self) -> Role:
        return self.persona.role


async def receive_everything(seats: list[Seat], timeout_s: float) -> bool:
    """Wait until each seat's room has received every other seat's final lines and last session
    event (written: see ``SessionEventPublisher.flush``); False on timeout, or when a room is no
    longer connected."""
    delivered = await asyncio.gather(
        *(
            receiver.receipts.wait_for(
                sender.room.local_participant.identity,
                finals=sender.lines_said,
                seq=sender.publisher.last_seq,
                timeout_s=timeout_s,
            )
            for sender in seats
            for receiver in seats
            if receiver is not sender
        )
    )
    return all(delivered)
