"""The room observer against a real loopback livekit-server, plus its level arithmetic.

Stand-in agents are plain rtc participants with an AGENT-kind token: they publish a tone (or
silence) from an ``rtc.AudioSource``, set ``lk.agent.state`` and send ``lk.transcription`` text
streams, which is all the observer relies on. Synchronisation uses events and timeouts, never
sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pytest
from helpers import scaled
from livekit import api, rtc

from agents.constants import TRANSCRIPTION_TOPIC
from tui.core.audio_level import SILENCE_DBFS, LevelMeter, meter_frame_ms, rms_dbfs
from tui.core.events import (
    ActiveSpeakers,
    AttributesChanged,
    AudioLevel,
    DomainEvent,
    ObserverStatus,
    ParticipantJoined,
    ParticipantLeft,
    TrackUpdate,
    TranscriptSegment,
)
from tui.core.local_server import LocalServer
from tui.core.observer import ObserverError, RoomObserver, observer_grants
from tui.core.state import RoomState

TIMEOUT_S = scaled(10.0)
SAMPLE_RATE = 48_000
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms

E = TypeVar("E")

# --------------------------------------------------------------------------- pure level math


def test_rms_dbfs_of_sine_and_silence() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    full = (np.sin(2 * math.pi * 440 * t) * 32767).astype(np.int16)
    assert rms_dbfs(full) == pytest.approx(-3.01, abs=0.05)
    assert rms_dbfs((full // 10).astype(np.int16)) == pytest.approx(-23.0, abs=0.1)
    assert rms_dbfs(np.zeros(480, dtype=np.int16)) == SILENCE_DBFS
    assert rms_dbfs(np.zeros(0, dtype=np.int16)) == SILENCE_DBFS


def test_level_meter_reports_once_per_interval() -> None:
    meter = LevelMeter(0.095)
    frame = np.full(160, 16384, dtype=np.int16)  # half scale: -6 dBFS
    reports = [meter.add(frame, now=i * 0.01) for i in range(31)]  # 10 ms frames over 0.3 s
    levels = [level for level in reports if level is not None]
    assert len(levels) == 3
    assert levels[0] == pytest.approx(-6.02, abs=0.01)
    with pytest.raises(ValueError):
        LevelMeter(0)


def test_meter_frames_are_long_but_at_least_two_per_interval() -> None:
    assert meter_frame_ms(0.2) == 100  # the dashboard: 10 frames a second, not 100
    assert meter_frame_ms(1.0) == 100
    assert meter_frame_ms(0.1) == 50
    assert meter_frame_ms(0.05) == 20
    assert meter_frame_ms(0.02) == 10  # the benchmark's probe keeps the SDK's 10 ms
    assert meter_frame_ms(0.001) == 10
    meter = LevelMeter(0.195)  # a little under 4 frames: float times stay on the right side
    frame = np.full(800, 16384, dtype=np.int16)  # 50 ms at 16 kHz, -6 dBFS
    reports = [meter.add(frame, now=i * 0.05) for i in range(21)]  # one second
    levels = [level for level in reports if level is not None]
    assert len(levels) == 5
    assert levels[-1] == pytest.approx(-6.02, abs=0.01)


# --------------------------------------------------------------------------- helpers


class Recorder:
    """A sink that keeps every event and lets a test await one matching a predicate."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: DomainEvent) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(
        self, kind: type[E], predicate: Callable[[E], bool] = lambda _: True, *, nth: int = 1
    ) -> E:
        """The ``nth`` event (counting from the first ever recorded) of ``kind`` matching."""

        async def scan() -> E:
            index, seen = 0, 0
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if isinstance(event, kind) and predicate(event):
                        seen += 1
                        if seen == nth:
                            return event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), TIMEOUT_S)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


def mint(
    server: LocalServer,
    room: str,
    identity: str,
    *,
    kind: str | None = None,
    attributes: dict[str, str] | None = None,
    grants: api.VideoGrants | None = None,
) -> str:
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_name(identity.split("-")[-1].title())
        .with_grants(
            grants
            or api.VideoGrants(
                room_join=True,
                room=room,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
                can_update_own_metadata=True,
            )
        )
    )
    if kind is not None:
        token = token.with_kind(kind)  # type: ignore[arg-type]
    if attributes:
        token = token.with_attributes(attributes)
    return token.to_jwt()


@dataclass
class StandIn:
    """An rtc participant playing an agent: publishes a tone and can speak text streams."""

    room: rtc.Room
    tone: asyncio.Task[None] | None = None
    published_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    async def aclose(self) -> None:
        if self.tone is not None:
            self.tone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.tone
        await self.room.disconnect()


async def push_tone(source: rtc.AudioSource, amplitude: float) -> None:
    phase = 0
    while True:
        t = (np.arange(FRAME_SAMPLES) + phase) / SAMPLE_RATE
        samples = (np.sin(2 * math.pi * 440 * t) * amplitude * 32767).astype(np.int16)
        phase += FRAME_SAMPLES
        frame = rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES)
        await source.capture_frame(frame)  # paced by the source's queue: real time


async def join_stand_in(
    server: LocalServer,
    room_name: str,
    identity: str,
    role: str,
    *,
    amplitude: float | None,
) -> StandIn:
    room = rtc.Room()
    token = mint(
        server,
        room_name,
        identity,
        kind="agent",
        attributes={"dispatch.role": role, "lk.agent.state": "listening"},
    )
    await room.connect(server.url, token)
    stand_in = StandIn(room)
    if amplitude is not None:
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("voice", source)
        stand_in.tone = asyncio.create_task(push_tone(source, amplitude), name="test:tone")
        stand_in.published_at = time.monotonic()
        await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
    return stand_in


@contextlib.asynccontextmanager
async def fresh_room(server: LocalServer) -> AsyncIterator[tuple[api.LiveKitAPI, str]]:
    lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    name = f"obs-{uuid.uuid4().hex[:8]}"
    try:
        await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=60))
        yield lkapi, name
    finally:
        with contextlib.suppress(Exception):
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
        await lkapi.aclose()


def observer_token(server: LocalServer, room: str, identity: str = "dispatch-tui-observer") -> str:
    return mint(server, room, identity, grants=observer_grants(room))


def leftover_tasks(before: set[asyncio.Task[Any]]) -> list[str]:
    current = asyncio.current_task()
    return sorted(
        task.get_name() + " " + repr(task.get_coro())
        for task in asyncio.all_tasks() - before
        if task is not current and not task.done()
    )


MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def report_measurements() -> Any:
    yield
    if MEASURED:
        print("\nobserver measurements: " + ", ".join(f"{k}={v:.3f}s" for k, v in MEASURED.items()))


# --------------------------------------------------------------------------- against the server


async def test_replays_a_room_that_already_has_an_agent(livekit_server: LocalServer) -> None:
    async with fresh_room(livekit_server) as (lkapi, room_name):
        tim = await join_stand_in(
            livekit_server, room_name, "dispatcher-tim", "dispatcher", amplitude=0.5
        )
        viewer = rtc.Room()
        viewer_saw_speaking = asyncio.Event()
        viewer.on(
            "participant_attributes_changed",
            lambda changed, _participant: (
                viewer_saw_speaking.set() if changed.get("lk.agent.state") == "speaking" else None
            ),
        )
        await viewer.connect(livekit_server.url, mint(livekit_server, room_name, "viewer-standard"))
        try:
            before = set(asyncio.all_tasks())
            recorder = Recorder()
            state = RoomState(room_name)

            def sink(event: DomainEvent) -> None:
                recorder(event)
                state.apply(event)

            observer = RoomObserver(
                livekit_server.url, observer_token(livekit_server, room_name), room_name, sink
            )
            started = time.monotonic()
            await observer.start()
            MEASURED["start_to_connected"] = time.monotonic() - started

            connecting, connected = recorder.of(ObserverStatus)[:2]
            assert (connecting.state, connected.state) == ("connecting", "connected")
            assert "token" not in connected.detail.lower()

            joined = await recorder.wait_for(
                ParticipantJoined, lambda e: e.identity == "dispatcher-tim"
            )
            assert joined.kind == "agent"
            assert joined.attribute_map == {
                "dispatch.role": "dispatcher",
                "lk.agent.state": "listening",
            }
            standard = await recorder.wait_for(
                ParticipantJoined, lambda e: e.identity == "viewer-standard"
            )
            assert standard.kind == "standard"
            published = await recorder.wait_for(
                TrackUpdate, lambda e: e.identity == "dispatcher-tim" and e.status == "published"
            )
            assert (published.source, published.kind, published.name) == (
                "microphone",
                "audio",
                "voice",
            )
            await recorder.wait_for(
                TrackUpdate, lambda e: e.identity == "dispatcher-tim" and e.status == "subscribed"
            )
            loud = await recorder.wait_for(
                AudioLevel, lambda e: e.identity == "dispatcher-tim" and e.rms_dbfs > -40
            )
            # The first readings include the jitter buffer's ramp-up; steady state is exact.
            await recorder.wait_for(
                AudioLevel,
                lambda e: e.identity == "dispatcher-tim" and abs(e.rms_dbfs - (-9.03)) < 1.0,
            )  # a half-scale sine is -9.03 dBFS
            speakers = await recorder.wait_for(
                ActiveSpeakers, lambda e: "dispatcher-tim" in e.identities
            )
            assert speakers.identities == ("dispatcher-tim",)

            await tim.room.local_participant.set_attributes({"lk.agent.state": "speaking"})
            changed = await recorder.wait_for(
                AttributesChanged, lambda e: e.identity == "dispatcher-tim"
            )
            assert changed.attribute_map["lk.agent.state"] == "speaking"
            assert changed.attribute_map["dispatch.role"] == "dispatcher"
            assert dict(changed.changed) == {"lk.agent.state": "speaking"}
            assert loud.rms_dbfs < 0

            await tim.room.local_participant.send_text(
                "Unit 4, pick up at <b>Main St</b>.",
                topic=TRANSCRIPTION_TOPIC,
                attributes={"lk.segment_id": "SG_1", "lk.transcription_final": "true"},
            )
            final = await recorder.wait_for(TranscriptSegment, lambda e: e.final)
            assert (final.identity, final.segment_id, final.text) == (
                "dispatcher-tim",
                "SG_1",
                "Unit 4, pick up at <b>Main St</b>.",
            )

            # Hidden: the server has the observer, the other participants never saw it, although
            # the viewer has already received a change made after the observer joined.
            await asyncio.wait_for(viewer_saw_speaking.wait(), TIMEOUT_S)
            listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room_name))
            assert "dispatch-tui-observer" in {p.identity for p in listed.participants}
            assert "dispatch-tui-observer" not in viewer.remote_participants
            assert "dispatch-tui-observer" not in tim.room.remote_participants

            view = state.dispatcher()
            assert view is not None and view.identity == "dispatcher-tim"
            assert view.agent_state == "speaking" and view.audio is not None
            assert view.audio.subscribed and view.level_dbfs is not None
            assert [line.text for line in view.transcript] == [final.text]

            await tim.aclose()
            left = await recorder.wait_for(
                ParticipantLeft, lambda e: e.identity == "dispatcher-tim"
            )
            assert left.reason  # e.g. CLIENT_INITIATED
            assert view.connected is False

            await observer.aclose()
            await observer.aclose()  # idempotent
            assert recorder.of(ObserverStatus)[-1].state == "disconnected"
            assert observer.tasks == frozenset()
            assert leftover_tasks(before) == []
        finally:
            await tim.aclose()
            await viewer.disconnect()


async def test_follows_agents_that_join_after_it(livekit_server: LocalServer) -> None:
    async with fresh_room(livekit_server) as (_lkapi, room_name):
        recorder = Recorder()
        before = set(asyncio.all_tasks())
        async with RoomObserver(
            livekit_server.url,
            observer_token(livekit_server, room_name),
            room_name,
            recorder,
            level_interval_s=0.2,
        ) as observer:
            assert observer.identity == "dispatch-tui-observer"
            chris = await join_stand_in(
                livekit_server, room_name, "driver-chris", "driver", amplitude=0.0
            )
            tone_tim = await join_stand_in(
                livekit_server, room_name, "dispatcher-tim", "dispatcher", amplitude=0.5
            )
            try:
                joined = await recorder.wait_for(
                    ParticipantJoined, lambda e: e.identity == "driver-chris"
                )
                assert joined.kind == "agent" and joined.attribute_map["dispatch.role"] == "driver"
                await recorder.wait_for(
                    TrackUpdate,
                    lambda e: e.identity == "driver-chris" and e.status == "subscribed",
                )
                silent = await recorder.wait_for(AudioLevel, lambda e: e.identity == "driver-chris")
                MEASURED["publish_to_first_level_silent"] = silent.at - chris.published_at
                loud = await recorder.wait_for(
                    AudioLevel, lambda e: e.identity == "dispatcher-tim" and e.rms_dbfs > -40
                )
                MEASURED["publish_to_first_loud_level"] = loud.at - tone_tim.published_at
                # Several silent readings, all far below anything audible.
                await recorder.wait_for(AudioLevel, lambda e: e.identity == "driver-chris", nth=5)
                silent_levels = [
                    e.rms_dbfs for e in recorder.of(AudioLevel) if e.identity == "driver-chris"
                ]
                assert max(silent_levels) < -80, silent_levels
                # Throttled: at most ~1 report per interval, not one per 10 ms frame.
                span = recorder.of(AudioLevel)[-1].at - silent.at
                assert len(silent_levels) <= span / 0.2 + 3

                # A streamed transcript appears as it is written; final comes from the trailer.
                writer = await chris.room.local_participant.stream_text(
                    topic=TRANSCRIPTION_TOPIC,
                    attributes={"lk.segment_id": "SG_7", "lk.transcription_final": "false"},
                )
                await writer.write("Copy that, ")
                partial = await recorder.wait_for(TranscriptSegment)
                assert (partial.text, partial.final) == ("Copy that, ", False)
                await writer.write("on my way.")
                await recorder.wait_for(
                    TranscriptSegment, lambda e: e.text == "Copy that, on my way."
                )
                await writer.aclose(attributes={"lk.transcription_final": "true"})
                final = await recorder.wait_for(TranscriptSegment, lambda e: e.final)
                assert (final.identity, final.segment_id, final.text) == (
                    "driver-chris",
                    "SG_7",
                    "Copy that, on my way.",
                )

                await chris.aclose()
                await recorder.wait_for(ParticipantLeft, lambda e: e.identity == "driver-chris")
            finally:
                await chris.aclose()
                await tone_tim.aclose()
        assert observer.tasks == frozenset()
        assert observer.room is None
        assert leftover_tasks(before) == []


async def test_an_observer_without_meters_gets_no_audio_frames(livekit_server: LocalServer) -> None:
    async with fresh_room(livekit_server) as (_lkapi, room_name):
        quiet, metering = Recorder(), Recorder()
        async with (
            RoomObserver(
                livekit_server.url,
                observer_token(livekit_server, room_name),
                room_name,
                quiet,
                meter_levels=False,
            ) as observer,
            RoomObserver(
                livekit_server.url,
                observer_token(livekit_server, room_name, identity="metering-observer"),
                room_name,
                metering,
                level_interval_s=0.2,
            ),
        ):
            tim = await join_stand_in(
                livekit_server, room_name, "dispatcher-tim", "dispatcher", amplitude=0.5
            )
            try:
                await quiet.wait_for(
                    TrackUpdate,
                    lambda e: e.identity == "dispatcher-tim" and e.status == "subscribed",
                )
                # positive control: a metering observer of the same room hears Tim meanwhile
                await metering.wait_for(
                    AudioLevel, lambda e: e.identity == "dispatcher-tim" and e.rms_dbfs > -40, nth=3
                )
                assert quiet.of(AudioLevel) == []
                assert not any("meter" in task.get_name() for task in observer.tasks)
            finally:
                await tim.aclose()


async def test_an_audio_sink_gets_every_metered_frame(livekit_server: LocalServer) -> None:
    with pytest.raises(ValueError, match="audio_sink needs meter_levels"):
        RoomObserver("ws://127.0.0.1:1", "t", "r", Recorder(), meter_levels=False, audio_sink=print)
    async with fresh_room(livekit_server) as (_lkapi, room_name):
        recorder = Recorder()
        frames: list[tuple[str, rtc.AudioFrame]] = []

        def audio_sink(identity: str, frame: rtc.AudioFrame) -> None:
            frames.append((identity, frame))
            if len(frames) == 5:
                raise RuntimeError("a broken recorder")  # logged once, then no more frames

        async with RoomObserver(
            livekit_server.url,
            observer_token(livekit_server, room_name),
            room_name,
            recorder,
            audio_sink=audio_sink,
        ):
            tim = await join_stand_in(
                livekit_server, room_name, "dispatcher-tim", "dispatcher", amplitude=0.5
            )
            try:
                # the meter goes on after its frame sink broke
                await recorder.wait_for(
                    AudioLevel, lambda e: e.identity == "dispatcher-tim" and e.rms_dbfs > -40, nth=8
                )
            finally:
                await tim.aclose()
        assert len(frames) == 5
        identity, frame = frames[-1]
        assert identity == "dispatcher-tim"
        assert (frame.sample_rate, frame.num_channels) == (16_000, 1)
        assert rms_dbfs(np.frombuffer(bytes(frame.data.cast("B")), dtype=np.int16)) > -40


async def test_reports_reconnects_and_a_deleted_room(livekit_server: LocalServer) -> None:
    async with fresh_room(livekit_server) as (lkapi, room_name):
        recorder = Recorder()
        async with RoomObserver(
            livekit_server.url, observer_token(livekit_server, room_name), room_name, recorder
        ) as observer:
            assert observer.room is not None
            await observer.room.simulate_scenario(
                rtc.SimulateScenarioKind.SIMULATE_SIGNAL_RECONNECT
            )
            await recorder.wait_for(ObserverStatus, lambda e: e.state == "reconnecting")
            await recorder.wait_for(ObserverStatus, lambda e: e.state == "reconnected")
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room_name))
            gone = await recorder.wait_for(ObserverStatus, lambda e: e.state == "disconnected")
            assert "room_deleted" in gone.detail


async def test_bad_token_fails_with_a_clear_status(livekit_server: LocalServer) -> None:
    room_name = f"obs-{uuid.uuid4().hex[:8]}"
    bad = (
        api.AccessToken(livekit_server.api_key, "x" * 48)
        .with_identity("dispatch-tui-observer")
        .with_grants(observer_grants(room_name))
        .to_jwt()
    )
    recorder = Recorder()
    observer = RoomObserver(livekit_server.url, bad, room_name, recorder)
    before = set(asyncio.all_tasks())
    with pytest.raises(ObserverError, match="could not join room") as raised:
        await observer.start()
    failed = recorder.of(ObserverStatus)[-1]
    assert failed.state == "failed" and room_name in failed.detail
    assert "401" in failed.detail  # the server's reason survives...
    # ...but not the token, which livekit-server echoes back in its 401 reply.
    assert bad not in failed.detail and bad not in str(raised.value) and bad not in repr(observer)
    await observer.aclose()
    assert leftover_tasks(before) == []
