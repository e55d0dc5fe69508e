"""A local stand-in for OpenAI's Realtime API, for tests: it speaks the protocol as
livekit-plugins-openai 1.8.9 uses it, with real speech, and injects the failures users meet.

Test code only: ``dispatch-tui`` never uses it. Point the worker at it with
``OPENAI_BASE_URL=<url>`` and any ``OPENAI_API_KEY``; the plugin turns ``http://host/v1`` into
``ws://host/v1/realtime?model=...``.

Each session learns its voice, model and instructions from ``session.update``; its agent is the
scenario persona named by the instructions ("You are Tim, ..."), else the one with its voice.
Each ``response.create`` is answered with that persona's next script line: the first it has not
said in the conversation, where its assistant items count (replayed ones included) and so does a
line cut short by a connection the stand-in dropped (the plugin does not replay it), so a call
of any number of agents and a reconnected session both go on where they are. It is spoken by the
offline voice's espeak-ng synthesis resampled to the protocol's 24 kHz, streamed in 100 ms
audio deltas (half a second ahead, then in real time) with the transcript as it goes.

Every event a client sends is written as one JSON line to the log (and kept in
``client_events``), with the connection it came on and the voice known for it then.

Alone: ``python tests/realtime_standin.py --port P --log FILE [--fault SPEC ...]`` prints its
URL (the ``OPENAI_BASE_URL`` to use) and serves until interrupted; faults are described in
``tests/realtime_faults.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

if __package__ in (None, ""):  # run as a script: make the project and tests/ importable
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).parent)]

from realtime_faults import Fault, FaultError, parse_fault
from realtime_session import StandInSession
from realtime_wire import merge

from agents.bundled import default_scenario_file
from agents.scenario import Scenario, load_scenario


class RealtimeStandIn:
    """The server: ``async with RealtimeStandIn(...) as stand_in: stand_in.base_url``."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        faults: Sequence[Fault] = (),
        *,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"host {host!r} is not loopback: the stand-in serves tests only")
        self.scenario = scenario or load_scenario(default_scenario_file())
        self.faults = tuple(faults)
        self.log_path = log_path
        self.host, self.port = host, port
        self.client_events: list[dict[str, Any]] = []
        self.responses: Counter[str] = Counter()
        """Responses asked of each voice, across connections (what ``Fault.response`` counts)."""
        self.cut_short: dict[str, int] = {}
        """Per voice, the lines said on a connection the stand-in dropped mid-line: the next
        connection of that voice goes on after them."""
        self.open_sessions: set[StandInSession] = set()
        self._connections = itertools.count(1)
        self._log_file: TextIO | None = None
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The ``OPENAI_BASE_URL`` clients use."""
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{prefix:.*}realtime", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.log_path is not None:
            self._log_file = self.log_path.open("a", encoding="utf-8")

    def reset(self, faults: Sequence[Fault] = (), log_path: Path | None = None) -> None:
        """Start afresh for the next test: its faults, counters and log (``log_path`` if given)."""
        self.faults = tuple(faults)
        self.responses.clear()
        self.cut_short.clear()
        with self._lock:
            self.client_events.clear()
            if log_path is not None:
                if self._log_file is not None:
                    self._log_file.close()
                self.log_path, self._log_file = log_path, log_path.open("a", encoding="utf-8")

    async def stop(self) -> None:
        for session in list(self.open_sessions):
            await session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    async def __aenter__(self) -> RealtimeStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ used by sessions

    def log(self, record: dict[str, Any]) -> None:
        """Keep one record and append it to the log file as a JSON line."""
        record = {"at": time.time(), **record}
        with self._lock:
            self.client_events.append(record)
            if self._log_file is not None:
                self._log_file.write(json.dumps(record) + "\n")
                self._log_file.flush()

    def fault_for(self, kind: str, voice: str, response: int = 0) -> Fault | None:
        """The first fault of ``kind`` hitting ``voice`` (and its ``response``-th response)."""
        for fault in self.faults:
            if fault.kind != kind:
                continue
            if (response and fault.hits_response(voice, response)) or (
                not response and fault.targets(voice)
            ):
                return fault
        return None

    # ------------------------------------------------------------------ queries for tests

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Client events received (of type ``kind``), each with its connection and voice."""
        with self._lock:
            records = [r for r in self.client_events if "event" in r]
        return [r for r in records if kind is None or r["event"].get("type") == kind]

    def session_configs(self) -> dict[int, dict[str, Any]]:
        """Per connection, the session configuration its ``session.update`` events built."""
        configs: dict[int, dict[str, Any]] = {}
        for record in self.events("session.update"):
            merge(configs.setdefault(record["connection"], {}), record["event"].get("session", {}))
        return configs

    # ------------------------------------------------------------------ the handshake

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        connection = next(self._connections)
        authorization = request.headers.get("Authorization", "")
        model = request.query.get("model", "")
        # never the key itself: only whether one was sent
        self.log(
            {
                "connection": connection,
                "connect": {"path": request.path, "model": model, "key": bool(authorization)},
            }
        )
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            return _http_error(401, "missing_api_key", "You didn't provide an API key.")
        if any(f.kind == "http_401" for f in self.faults):
            self.log({"connection": connection, "fault": "http_401"})
            return _http_error(401, "invalid_api_key", "Incorrect API key provided.")
        if not model:
            return _http_error(400, "missing_model", "Missing required parameter: 'model'.")
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        session = StandInSession(self, ws, request, connection, model)
        self.open_sessions.add(session)
        try:
            await session.run()
        finally:
            self.open_sessions.discard(session)
        return ws


def _http_error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return web.json_response(body, status=status)


async def _serve(args: argparse.Namespace) -> None:
    scenario = load_scenario(Path(args.scenario)) if args.scenario else None
    stand_in = RealtimeStandIn(scenario, args.fault, log_path=args.log, port=args.port)
    async with stand_in:
        print(stand_in.base_url, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for name in ("SIGINT", "SIGTERM"):
            with contextlib.suppress(NotImplementedError):
                import signal

                loop.add_signal_handler(getattr(signal, name), stop.set)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--log", type=Path, help="append every client event here (JSON lines)")
    parser.add_argument("--scenario", help="scenario JSON whose script lines are spoken")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_arg,
        help="inject a failure: KIND[,voice=V][,response=N][,seconds=S] (repeatable)",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


def _fault_arg(text: str) -> Fault:
    try:
        return parse_fault(text)
    except FaultError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
