"""The dashboard's in-process worker alone in a child process (``agents.worker_host``): what the
benchmarks measure and what the fresh-worker test starts, since a fresh process is the point.

Protocol: the child reads the server and credentials from its environment and writes one JSON
line (``registered``); closing its stdin stops it. Session events travel through the rooms like
everywhere else: :meth:`WorkerHost.watch` reads a room's with a hidden listener that subscribes
to no track (see :mod:`agents.session_wire`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from livekit import rtc

from agents.tokens import observer_token
from tui.core.events import DomainEvent, SessionEvent
from tui.core.local_server import PROJECT_ROOT, LocalServer
from tui.core.session_channel import SessionChannelReader

REGISTER_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 20.0


def worker_env(server: LocalServer, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker process: the local server's credentials, offline voice."""
    env = dict(os.environ)
    env.update(
        LIVEKIT_URL=server.url,
        LIVEKIT_API_KEY=server.api_key,
        LIVEKIT_API_SECRET=server.api_secret,
        DISPATCH_VOICE="offline",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


class WorkerHost:
    """The in-process worker in a child process; session events collected as they arrive."""

    def __init__(self, server: LocalServer, log_dir: Path, name: str = "worker_host") -> None:
        self._server = server
        self.log_path = log_dir / f"{name}.log"
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._registered = asyncio.Event()
        self._changed = asyncio.Event()
        self.events: list[dict[str, Any]] = []
        self.worker_id = ""
        self._taps: dict[str, rtc.Room] = {}

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("worker host not started")
        return self._process.pid

    async def __aenter__(self) -> WorkerHost:
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agents.worker_host",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=worker_env(self._server),
                cwd=PROJECT_ROOT,
            )
        self._reader = asyncio.create_task(self._read(), name="worker-host:reader")
        try:
            async with asyncio.timeout(REGISTER_TIMEOUT_S):
                await self._registered.wait()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for raw in self._process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue  # a stray print from a library: not ours
            if message.get("event") == "registered":
                self.worker_id = str(message.get("worker_id", ""))
                self._registered.set()
            self._changed.set()
        self._changed.set()

    @property
    def exit_code(self) -> int | None:
        """None while the worker runs; its exit code once it died (or was stopped)."""
        return None if self._process is None else self._process.returncode

    def crash_lines(self) -> list[str]:
        """Log lines that explain a dead worker (the rtc FFI prints "FFI Panic" and exits)."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "Panic" in line or "Traceback" in line][-5:]

    async def watch(self, room: str) -> None:
        """Collect ``room``'s session events from now on (events are not replayed: watch a
        room before its agents are dispatched to miss none)."""
        if room in self._taps:
            return
        tap = rtc.Room()
        # the observer's own reader: the same decoding, and LiveKit's session channel dropped
        SessionChannelReader(room, self.record).attach(tap)
        self._taps[room] = tap
        token = observer_token(
            self._server.api_key, self._server.api_secret, room, identity=f"host-tap-{room}"
        )
        await tap.connect(self._server.url, token, rtc.RoomOptions(auto_subscribe=False))

    def record(self, event: DomainEvent) -> None:
        """Keep a session event read by someone else's observer of the room (a caller that
        already observes a room need not open a second connection with :meth:`watch`)."""
        if isinstance(event, SessionEvent):
            self.events.append(
                {
                    "room": event.room,
                    "role": event.role,
                    "kind": event.kind,
                    "payload": event.payload,
                    "received_at": event.at,
                    "sent_at": event.sent_at,
                }
            )
            self._changed.set()

    async def wait_job_finished(self, room: str, timeout_s: float) -> bool:
        """Wait for the worker's own "Job for room ... finished" log line; False on timeout."""
        needle = f"Job for room {room} finished"
        try:
            async with asyncio.timeout(timeout_s):
                while needle not in self.log_path.read_text(errors="replace"):
                    await asyncio.sleep(0.2)
        except TimeoutError:
            return False
        return True

    def of(self, room: str, kind: str) -> list[dict[str, Any]]:
        """Session events of one kind for one room, in arrival order."""
        return [e for e in self.events if e["room"] == room and e["kind"] == kind]

    async def wait_for(self, rooms: list[str], kind: str, timeout_s: float, count: int = 1) -> bool:
        """Wait until every room reported ``kind`` at least ``count`` times; False on timeout
        or once the worker died."""
        try:
            async with asyncio.timeout(timeout_s):
                while not all(len(self.of(room, kind)) >= count for room in rooms):
                    self._changed.clear()
                    if self._process is not None and self._process.returncode is not None:
                        return False
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        """Close stdin (the stop signal), wait, and kill if the worker does not stop."""
        taps, self._taps = list(self._taps.values()), {}
        for tap in taps:
            with contextlib.suppress(Exception):
                await tap.disconnect()
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)
