"""rtc room events in, domain events out: the observer's translation of what the room says.

:class:`RoomEvents` has one ``on_<event>`` handler per name in :data:`ROOM_EVENTS` (the observer
registers them on its ``rtc.Room``) and :meth:`RoomEvents.replay` for what was there before.
Handlers run on the room's loop, synchronously; the meters they start and stop belong to the
observer, which owns every task.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Final

from livekit import rtc

from tui.core.events import (
    ActiveSpeakers,
    AttributesChanged,
    ConnectionQualityChanged,
    DomainEvent,
    ObserverState,
    ParticipantJoined,
    ParticipantLeft,
    TrackStatus,
    TrackUpdate,
    freeze_attributes,
)
from tui.core.rtc_names import (
    disconnect_reason_name,
    kind_name,
    quality_name,
    server_join_time,
    source_name,
    track_kind_name,
)

logger = logging.getLogger("tui.observer")

ROOM_EVENTS: Final[tuple[str, ...]] = (
    "participant_connected",
    "participant_disconnected",
    "participant_attributes_changed",
    "participant_name_changed",
    "track_published",
    "track_unpublished",
    "track_subscribed",
    "track_unsubscribed",
    "track_subscription_failed",
    "track_muted",
    "track_unmuted",
    "active_speakers_changed",
    "connection_quality_changed",
    "reconnecting",
    "reconnected",
    "disconnected",
)

StartMeter = Callable[[rtc.RemoteParticipant, rtc.TrackPublication, rtc.Track], None]


class RoomEvents:
    """Translates one room's rtc events into domain events for ``emit``."""

    def __init__(
        self,
        room_name: str,
        emit: Callable[[DomainEvent], None],
        status: Callable[[ObserverState, str], None],
        *,
        start_meter: StartMeter,
        stop_meter: Callable[[str], None],
        stop_meters_of: Callable[[str], None],
    ) -> None:
        self.room_name = room_name
        self._emit = emit
        self._status = status
        self._start_meter = start_meter
        self._stop_meter = stop_meter
        self._stop_meters_of = stop_meters_of

    def replay(self, room: rtc.Room) -> int:
        """Report everything already in ``room``; returns how many participants it holds."""
        participants = list(room.remote_participants.values())
        for participant in participants:
            self._joined(participant)
            for publication in participant.track_publications.values():
                self._track(participant, publication, "published")
                track = publication.track
                if publication.subscribed and track is not None:
                    self._track(participant, publication, "subscribed")
                    self._start_meter(participant, publication, track)
            if participant.connection_quality != rtc.ConnectionQuality.QUALITY_UNKNOWN:
                self.on_connection_quality_changed(participant, participant.connection_quality)
        return len(participants)

    def _joined(self, participant: rtc.Participant, *, live: bool = False) -> None:
        event = ParticipantJoined(
            room=self.room_name,
            identity=participant.identity,
            name=participant.name,
            kind=kind_name(participant.kind),
            attributes=freeze_attributes(participant.attributes),
            sid=participant.sid,
        )
        if live:  # a replayed participant may have been there for hours: count from now
            event = dataclasses.replace(event, at=server_join_time(participant, event.at))
        self._emit(event)

    def _track(
        self,
        participant: rtc.Participant,
        publication: rtc.TrackPublication,
        status: TrackStatus,
        error: str = "",
    ) -> None:
        self._emit(
            TrackUpdate(
                room=self.room_name,
                identity=participant.identity,
                sid=publication.sid,
                name=publication.name,
                source=source_name(publication.source),
                kind=track_kind_name(publication.kind),
                muted=publication.muted,
                status=status,
                error=error,
            )
        )

    # -- rtc event handlers (called on the loop, synchronously, by the room's event task)

    def on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        self._joined(participant, live=True)

    def on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        self._stop_meters_of(participant.identity)
        self._emit(
            ParticipantLeft(
                room=self.room_name,
                identity=participant.identity,
                reason=disconnect_reason_name(participant.disconnect_reason),
            )
        )

    def on_participant_attributes_changed(
        self, changed: dict[str, str], participant: rtc.Participant
    ) -> None:
        if isinstance(participant, rtc.LocalParticipant):
            return
        self._emit(
            AttributesChanged(
                room=self.room_name,
                identity=participant.identity,
                attributes=freeze_attributes(participant.attributes),
                changed=freeze_attributes(changed),
            )
        )

    def on_participant_name_changed(
        self, participant: rtc.Participant, old_name: str, new_name: str
    ) -> None:
        # The name takes part in role matching; a re-announcement refreshes it in the state.
        if not isinstance(participant, rtc.LocalParticipant):
            self._joined(participant)

    def on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self._track(participant, publication, "published")

    def on_track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self._stop_meter(publication.sid)
        self._track(participant, publication, "unpublished")

    def on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        self._track(participant, publication, "subscribed")
        self._start_meter(participant, publication, track)

    def on_track_unsubscribed(
        self,
        track: rtc.Track | None,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        self._stop_meter(publication.sid)
        self._track(participant, publication, "unsubscribed")

    def on_track_subscription_failed(
        self, participant: rtc.RemoteParticipant, track_sid: str, error: str
    ) -> None:
        publication = participant.track_publications.get(track_sid)
        logger.warning(
            "subscription to %s's track %s failed: %s", participant.identity, track_sid, error
        )
        if publication is not None:
            self._track(participant, publication, "subscription_failed", error)
        else:
            self._emit(
                TrackUpdate(
                    room=self.room_name,
                    identity=participant.identity,
                    sid=track_sid,
                    status="subscription_failed",
                    error=error,
                )
            )

    def on_track_muted(
        self, participant: rtc.Participant, publication: rtc.TrackPublication
    ) -> None:
        if not isinstance(participant, rtc.LocalParticipant):
            self._track(participant, publication, "muted")

    def on_track_unmuted(
        self, participant: rtc.Participant, publication: rtc.TrackPublication
    ) -> None:
        if not isinstance(participant, rtc.LocalParticipant):
            self._track(participant, publication, "unmuted")

    def on_active_speakers_changed(self, speakers: list[rtc.Participant]) -> None:
        identities = tuple(speaker.identity for speaker in speakers)
        self._emit(ActiveSpeakers(room=self.room_name, identities=identities))

    def on_connection_quality_changed(
        self, participant: rtc.Participant | None, quality: int
    ) -> None:
        # The observer's own quality arrives here too: it is not a participant of interest.
        if participant is None or isinstance(participant, rtc.LocalParticipant):
            return
        self._emit(
            ConnectionQualityChanged(
                room=self.room_name, identity=participant.identity, quality=quality_name(quality)
            )
        )

    def on_reconnecting(self) -> None:
        self._status("reconnecting", "connection to the server lost; reconnecting")

    def on_reconnected(self) -> None:
        self._status("reconnected", "reconnected to the server")

    def on_disconnected(self, reason: int) -> None:
        name = disconnect_reason_name(reason)
        logger.info("observer disconnected from %s: %s", self.room_name, name)
        self._status("disconnected", f"disconnected from room {self.room_name!r}: {name}")
