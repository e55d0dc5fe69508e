"""``python -m tui.cluster`` (``make cluster``): a local cluster in the foreground.

Prints each node's URL and the API key, writes the secret to a 0600 env file for the
dashboard, reports a process that dies, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from tui.cluster.launcher import (
    DEFAULT_ENV_FILE,
    DEFAULT_NODES,
    DEFAULT_WORKER_CAPACITY,
    DEFAULT_WORKERS,
    Cluster,
    calls_per_worker,
    write_env_file,
)
from tui.cluster.processes import ClusterError


def _positive_int(raw: str) -> int:
    if not raw.strip().isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a positive whole number: give the calls one worker may run at once"
        )
    return int(raw)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tui.cluster",
        description="Run a local LiveKit cluster (Redis, livekit-server nodes, headless "
        "workers) in the foreground on 127.0.0.1; Ctrl-C stops everything.",
    )
    parser.add_argument("--nodes", type=int, default=DEFAULT_NODES, help="server nodes (2)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="workers (2)")
    parser.add_argument(
        "--capacity",
        type=_positive_int,
        default=DEFAULT_WORKER_CAPACITY,
        help="a fixed count of calls per worker (DISPATCH_WORKER_CAPACITY); the server gives a "
        "worker no more jobs once it runs 70%% of it. Default: each worker measures what its "
        "share of this machine's cores runs in real time and refuses the rest",
    )
    parser.add_argument(
        "--voice",
        choices=("offline", "realtime"),
        default=os.environ.get("DISPATCH_VOICE") or "offline",
        help="the workers' voice (default $DISPATCH_VOICE, else offline)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=DEFAULT_ENV_FILE,
        help=f"where to write URL, key and secret (0600; default {DEFAULT_ENV_FILE})",
    )
    return parser.parse_args(argv)


def _describe(cluster: Cluster, env_file: Path) -> list[str]:
    lines = [f"node {i}: {url}" for i, url in enumerate(cluster.urls)]
    lines.append(f"API key: {cluster.api_key}")
    lines.append(f"API secret: in {env_file} (mode 0600, never printed)")
    for worker in cluster.workers:
        lines.append(
            f"{worker.name}: pid {worker.pid}, id {worker.worker_id}, log {worker.log_path}"
        )
    if cluster.capacity is None:
        lines.append(
            "capacity: each worker measures what its share of this machine runs in real time "
            "(its log says 'worker takes up to N calls at once') and refuses the rest"
        )
    else:
        lines.append(
            f"capacity: {cluster.capacity} calls per worker; the server gives a worker no more "
            f"jobs once it runs {calls_per_worker(cluster.capacity)}"
        )
    lines.append(f"logs: {cluster.workdir}")
    lines.append(f"dashboard: .venv/bin/dispatch-tui --env-file {env_file} --no-worker")
    lines.append("Ctrl-C stops the cluster.")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Start a cluster, print how to reach it, and run until Ctrl-C or SIGTERM."""
    args = _parse(argv)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # from here on Ctrl-C only sets the flag: the start-up or the wait below ends in order and
    # the finally clause stops every child, whichever phase we were in
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    cluster = Cluster(
        nodes=args.nodes, workers=args.workers, voice=args.voice, capacity=args.capacity
    )
    env_file: Path = args.env_file
    written = ""
    try:
        print("starting the local cluster (all on 127.0.0.1)...", flush=True)
        _start_interruptibly(cluster, stop)
        if stop.is_set():
            return 130
        written = write_env_file(cluster, env_file).read_text()
        print("\n".join(_describe(cluster, env_file)), flush=True)
        # a process that dies is reported once and the rest keeps running: killing a worker to
        # watch its rooms lose their agents is a legitimate experiment
        reported: set[str] = set()
        while not stop.wait(1.0):
            for name, alive in _liveness(cluster):
                if not alive and name not in reported:
                    reported.add(name)
                    print(f"{name} exited; the rest of the cluster keeps running", flush=True)
        return 0
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping the cluster...", flush=True)
        cluster.stop()
        # its secret is useless once the nodes are gone; a file another cluster wrote since
        # (same path) is left alone
        with contextlib.suppress(OSError):
            if written and env_file.read_text() == written:
                env_file.unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped.", flush=True)


def _liveness(cluster: Cluster) -> list[tuple[str, bool]]:
    """``(name, running)`` for every process of the cluster."""
    parts = [(w.name, w.running) for w in cluster.workers]
    parts += [(f"node {i} ({n.url})", n.running) for i, n in enumerate(cluster.nodes)]
    if cluster.redis is not None:
        parts.append(("redis-server", cluster.redis.running))
    return parts


def _start_interruptibly(cluster: Cluster, stop: threading.Event) -> None:
    """Run ``cluster.start()`` on a thread so that Ctrl-C during start-up is honoured promptly.

    The start-up blocks in waits the signal flag cannot interrupt; the thread finishes (or
    fails) on its own and ``main`` then stops whatever it started.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            cluster.start(progress=lambda line: print(f"  {line}", flush=True))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="cluster-start", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
        if stop.is_set():
            # the start-up gives up at its next check and stops what it started
            cluster.cancel_start()
            thread.join()
            return
    if failure:
        raise failure[0]


if __name__ == "__main__":
    raise SystemExit(main())
