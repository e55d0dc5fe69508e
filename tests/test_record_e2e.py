"""A real call recorded end to end, and its report in a real headless Chromium.

A fresh worker process (offline voice, the six-line goodbye script) serves a room on a
loopback livekit-server of this module's own; the dashboard's RoomObserver watches it with its
sink tee'd into a :class:`CallRecorder` and its audio frames handed to it. Then: report.json has
both agents' turns and turn-taking figures, each WAV holds that agent's audible speech where
the record says it spoke, and ``dispatch-tui report --html`` draws the call in Chromium.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import shutil
import struct
import subprocess
import time
import wave
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import create_dispatched_room, delete_room_quietly, eventually, scaled
from livekit import api

from agents.constants import AGENT_NAME
from agents.tokens import observer_token
from tui.cluster.load import GOODBYE_SCRIPT, scripted_scenario
from tui.commands.cli import run_cli
from tui.core.events import DomainEvent, ParticipantLeft
from tui.core.local_server import LocalServer, ServerConfig
from tui.core.observer import RoomObserver
from tui.core.record.recorder import CallRecorder, tee
from tui.core.record.store import RunStore
from tui.core.worker_host import WorkerHost

pytestmark = pytest.mark.e2e

AGENTS = ("dispatcher-tim", "driver-chris")
AUDIBLE_DBFS = -35.0
"""espeak-ng speech is received at about -20 dBFS; silence is digital zero."""
WINDOW = (1100, 1400)


@dataclass
class Recorded:
    run_dir: Path
    report: dict[str, Any]
    wall_s: float


@pytest.fixture(scope="module")
async def recorded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorded]:
    """One real call, recorded (module-wide: every test below reads the same run)."""
    base = tmp_path_factory.mktemp("record_e2e")
    server = LocalServer(ServerConfig.generate())
    await server.astart()
    try:
        async with (
            WorkerHost(server, base) as host,
            api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi,
        ):
            assert host.worker_id
            room = f"record_{secrets.token_hex(3)}"
            scenario = scripted_scenario()
            await create_dispatched_room(lkapi, room, scenario, ())
            recorder = CallRecorder.start(RunStore(base / "runs"), room, scenario=scenario.load_id)
            left: set[str] = set()

            def note(event: DomainEvent) -> None:
                if isinstance(event, ParticipantLeft):
                    left.add(event.identity)

            token = observer_token(server.api_key, server.api_secret, room)
            started = time.monotonic()
            try:
                async with RoomObserver(
                    server.url, token, room, tee(note, recorder.apply), audio_sink=recorder.audio
                ):
                    await lkapi.agent_dispatch.create_dispatch(
                        api.CreateAgentDispatchRequest(
                            agent_name=AGENT_NAME, room=room, metadata=scenario.to_json()
                        )
                    )
                    await eventually(lambda: left >= set(AGENTS), 60, "both agents to leave")
            finally:
                run_dir = await asyncio.to_thread(recorder.close, "test over")
                await delete_room_quietly(lkapi, room)
            wall = time.monotonic() - started
    finally:
        await server.astop()
    report = json.loads((run_dir / "report.json").read_text())
    yield Recorded(run_dir, report, wall)


async def test_the_report_has_both_agents_turns_and_turn_taking(recorded: Recorded) -> None:
    report = recorded.report
    assert report["scenario"] == "HDX-2478"
    assert report["ended_reason"] == "max_turns"
    assert report["started_at"].endswith("Z") and report["ended_at"] > report["started_at"]
    lines = {
        role: sum(1 for who, _ in GOODBYE_SCRIPT if who == role)
        for role in ("dispatcher", "driver")
    }
    for identity, role in zip(AGENTS, ("dispatcher", "driver"), strict=True):
        agent = report["agents"][identity]
        assert agent["role"] == role
        assert agent["turns"] == lines[role], agent  # heard in the audio, one per script line
        assert agent["relay_turns"] == lines[role]
        assert agent["speaking_s"] > 0.5 * lines[role]
        assert agent["pipeline"]["tts_ttfb_s"]["count"] == lines[role]
    # Chris answers Tim three times, Tim answers Chris twice
    assert report["agents"]["driver-chris"]["latency"]["count"] == 3
    assert report["agents"]["dispatcher-tim"]["latency"]["count"] == 2
    turns = report["turn_taking"]
    assert turns["response_gap_s"]["count"] == len(GOODBYE_SCRIPT) - 1
    assert 0.0 < turns["response_gap_s"]["p50"] < scaled(2.0)
    assert (
        turns["response_gap_s"]["p50"]
        <= turns["response_gap_s"]["p95"]
        <= turns["response_gap_s"]["max"]
    )
    assert turns["overlaps"] == 0 and turns["overlap_s"] == 0  # the relay never overlaps
    assert turns["deadlocks"] == 0
    assert turns["longest_turn_by"] == "dispatcher-tim"  # "Hi Chris, Tim here about load ..."
    texts = [(line["identity"], line["text"]) for line in report["transcript"]]
    assert [text for who, text in texts if who == "driver-chris"] == [
        text for who, text in GOODBYE_SCRIPT if who == "driver"
    ]
    starts = [line["start_s"] for line in report["transcript"]]
    assert starts == sorted(starts)
    assert {f["id"]: f["status"] for f in report["findings"]} == {
        "turn.overlap": "ok",
        "turn.deadlock": "ok",
    }
    assert report["recording"]["dropped"] == 0 and report["recording"]["complete"]


def _dbfs(samples: np.ndarray) -> float:
    values = samples.astype(np.float64) / 32768.0
    return float(10 * np.log10(max(np.mean(values * values), 1e-10)))


async def test_each_wav_holds_that_agents_speech_where_the_record_says(recorded: Recorded) -> None:
    report = recorded.report
    for identity in AGENTS:
        info = report["recording"]["audio"][identity]
        with wave.open(str(recorded.run_dir / info["file"]), "rb") as wav:
            rate = wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        seconds = len(samples) / rate
        assert seconds == pytest.approx(info["seconds"], abs=0.01)
        # plausible: the whole call, from subscription to departure
        assert 0.6 * report["duration_s"] < seconds <= report["duration_s"]

        def clip(start: float, end: float) -> np.ndarray:
            return _clip(samples, rate, info["start_s"], start, end)  # noqa: B023 (used at once)

        own = report["timeline"]["speech"][identity]
        assert len(own) >= 3
        for start, end in own:  # audible wherever the record says this agent spoke
            assert _dbfs(clip(start + 0.1, end - 0.1)) > AUDIBLE_DBFS, (identity, start, end)
        other = next(i for i in AGENTS if i != identity)
        for start, end in report["timeline"]["speech"][other]:  # and quiet while the other did
            middle = (start + end) / 2  # frames and levels may be up to 0.5 s apart under load
            assert _dbfs(clip(middle - 0.15, middle + 0.15)) < -60.0, (identity, start, end)


def _clip(samples: np.ndarray, rate: int, wav_start: float, start: float, end: float) -> np.ndarray:
    """The samples of ``start``-``end`` on the record's clock (the WAV begins at ``wav_start``)."""
    return samples[int((start - wav_start) * rate) : int((end - wav_start) * rate)]


def _png_pixels(path: Path) -> np.ndarray:
    """An 8-bit RGB(A) PNG as an array (enough of PNG for Chromium's screenshots)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        row = line.copy()
        if kind == 2:
            row = (line + previous) % 256
        elif kind in (1, 3, 4):
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                up, corner = previous[x], previous[x - channels] if x >= channels else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[x] = (line[x] + predictor) % 256
        out[y], previous = row, row
    return out.reshape(height, width, channels)[:, :, :3].astype(np.uint8)


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: run `make chromium` (apt-get install chromium)"
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=scaled(90), check=False,
    )  # fmt: skip


async def test_the_html_report_in_headless_chromium(recorded: Recorded, tmp_path: Path) -> None:
    page = tmp_path / "call.html"
    out, err = io.StringIO(), io.StringIO()
    assert (
        run_cli(
            ["report", str(recorded.run_dir), "--html", str(page)],
            environ={},
            stdout=out,
            stderr=err,
        )
        == 0
    ), err.getvalue()
    url = page.as_uri()
    dom = await asyncio.to_thread(_chromium, "--dump-dom", url, profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg id="timeline"' in dom.stdout
    assert dom.stdout.count('class="speech"') == len(GOODBYE_SCRIPT)
    assert dom.stdout.count("data:audio/wav;base64,") == 2
    shot = tmp_path / "call.png"
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    done = await asyncio.to_thread(
        _chromium, f"--screenshot={shot}", size, url, profile=tmp_path / "p2"
    )
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = await asyncio.to_thread(_png_pixels, shot)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    # non-trivial: much of the page is drawn, and both agents' lane colours are on it
    assert (pixels.min(axis=2) < 200).mean() > 0.02
    colours = {tuple(c) for c in pixels.reshape(-1, 3)[::7]}
    assert (0x2F, 0x6F, 0xDF) in colours and (0xE0, 0x7B, 0x00) in colours
    assert len(colours) > 50
