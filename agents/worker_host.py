"""Host the dashboard's in-process worker alone in a process (benchmarks and tests).

``python -m agents.worker_host`` builds the worker exactly as the dashboard does
(``agents.multi_agent_worker.build_server`` with the thread executor and the offline voice) and
runs it on its own asyncio loop. Running it in a child process lets the bench measure the
worker's CPU and memory with psutil without counting the observers that time it.

Protocol: credentials come from ``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``.
Stdout carries one JSON line, ``{"event": "registered", "worker_id": ...}``; session events travel
through the rooms like everywhere else (see ``bench.workers.WorkerHost.watch``). Closing stdin
stops the worker cleanly; logs go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # run as a script: make ``agents`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncio
import json
import logging
import os
import threading
from typing import Any

from livekit.agents import JobExecutorType

from agents.compat import release_rtc_client
from agents.multi_agent_worker import build_server


class _LineWriter:
    """Writes JSON lines to stdout from any thread (session events arrive on job threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str)
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


async def serve() -> None:
    """Run the worker until stdin closes."""
    write = _LineWriter()

    server = build_server(
        voice="offline",
        ws_url=os.environ["LIVEKIT_URL"],
        api_key=os.environ["LIVEKIT_API_KEY"],
        api_secret=os.environ["LIVEKIT_API_SECRET"],
        executor=JobExecutorType.THREAD,
    )

    def on_registered(worker_id: str, _info: Any) -> None:
        write({"event": "registered", "worker_id": worker_id})

    server.on("worker_registered", on_registered)
    run_task = asyncio.create_task(server.run(devmode=True), name="worker-host:agent-server")
    # EOF on stdin is the stop signal: it also arrives when the bench dies without cleaning up
    await asyncio.to_thread(sys.stdin.read)
    await server.aclose()
    await run_task


def main() -> None:
    # INFO like the dashboard's capture: the job logs a handful of lines per call
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve())
    # the rtc runtime's threads would otherwise be able to abort the exiting interpreter
    release_rtc_client()


if __name__ == "__main__":
    main()
