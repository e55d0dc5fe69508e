"""The floor: what pushing a call's audio costs with nothing but ``livekit.rtc``.

Per call, two bare participants (one per agent) each publish a microphone track and push 48 kHz
mono PCM in 10 ms frames in real time, taking turns of 2 s (a tone; the agents also speak in
turns), in one process of their own. ``python -m bench.floor --calls N --seconds S`` starts a
loopback livekit-server, runs the publishers in a child process and prints that process's CPU
as a share of a core (JSON). Compare with ``bench.room_ramp --hold`` (the worker's CPU for
the same calls); ``python -m bench`` (stage ``floor``) does both in one run with
:func:`floor_cpu` on its own server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import psutil
from livekit import api, rtc

from tui.core.local_server import PROJECT_ROOT, LocalServer

SAMPLE_RATE = 48_000
FRAME_MS = 10
TURN_S = 2.0


def _token(key: str, secret: str, room: str, identity: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=False)
    return api.AccessToken(key, secret).with_identity(identity).with_grants(grants).to_jwt()


READY_LINE = "publishing"
"""The child's one stdout line once every publisher has published and the tones start."""
READY_TIMEOUT_S = 120.0
"""A loaded machine can take many seconds to import livekit and connect every publisher."""
SETTLE_S = 1.0


async def _publish(
    url: str, token: str, seconds: float, turn: int, published: asyncio.Barrier
) -> None:
    """One bare participant pushing a tone in real time for ``seconds``, on its turns only
    (``TURN_S`` each, the two agents of a call alternating, as they speak in a call), from
    the moment every publisher of the process has published (``published``)."""
    room = rtc.Room()
    await room.connect(url, token, rtc.RoomOptions(auto_subscribe=False))
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await room.local_participant.publish_track(track, options)
    samples = SAMPLE_RATE * FRAME_MS // 1000
    t = np.arange(samples) / SAMPLE_RATE
    pcm = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
    frame = rtc.AudioFrame(pcm.tobytes(), SAMPLE_RATE, 1, samples)
    if await published.wait() == 0:  # one publisher says so for all
        print(READY_LINE, flush=True)
    start = time.monotonic()
    while (now := time.monotonic()) < start + seconds:
        if int((now - start) / TURN_S) % 2 == turn:
            await source.capture_frame(frame)  # waits while the source's queue is full
        else:
            await asyncio.sleep(FRAME_MS / 1000)
    await room.disconnect()


async def _publishers(url: str, key: str, secret: str, calls: int, seconds: float) -> None:
    published = asyncio.Barrier(2 * calls)
    await asyncio.gather(
        *(
            _publish(
                url, _token(key, secret, f"floor_{c}", f"agent_{c}_{a}"), seconds, a, published
            )
            for c in range(calls)
            for a in range(2)
        )
    )


async def floor_cpu(server: LocalServer, calls: int, seconds: float) -> dict[str, Any]:
    """CPU share of a core of the publishers' process (``calls`` calls, two publishers each)
    on ``server``, over ``seconds`` while they all push audio.

    The window opens when the child says every publisher published (plus a settling second),
    not after a fixed delay: on a loaded machine the child's imports alone took 7 to 18 s, so
    a window opened 4 s after the start measured imports and connections, not the floor.
    """
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.floor",
            "--child",
            server.url,
            server.api_key,
            server.api_secret,
            str(calls),
            str(seconds + SETTLE_S + 2),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        proc = psutil.Process(child.pid)
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), READY_TIMEOUT_S)
        if line.strip() != READY_LINE:
            raise RuntimeError(f"the floor's publishers did not start (exit {child.poll()})")
        await asyncio.sleep(SETTLE_S)
        before, start = proc.cpu_times(), time.monotonic()
        await asyncio.sleep(seconds)
        after, held = proc.cpu_times(), time.monotonic() - start
        await asyncio.to_thread(child.wait, 30)
    finally:
        if child.poll() is None:
            child.kill()
            await asyncio.to_thread(child.wait)
    used = (after.user + after.system) - (before.user + before.system)
    return {
        "calls": calls,
        "seconds": seconds,
        "floor_cpu_share": round(used / held, 3),
        "exit_code": child.returncode,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


async def measure(calls: int, seconds: float) -> dict[str, Any]:
    """:func:`floor_cpu` on a loopback livekit-server of its own."""
    async with LocalServer() as server:
        return await floor_cpu(server, calls, seconds)


def main() -> None:
    """``python -m bench.floor [--calls 1] [--seconds 8]``: print the floor as JSON."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, key, secret, calls, seconds = sys.argv[2:7]
        asyncio.run(_publishers(url, key, secret, int(calls), float(seconds)))
        return
    parser = argparse.ArgumentParser(description="the CPU floor of a call's audio")
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.calls, args.seconds)), indent=2))


if __name__ == "__main__":
    main()
