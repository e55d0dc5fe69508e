"""A local LiveKit cluster: Redis, several ``livekit-server`` nodes and headless workers.

This is LiveKit's own way to scale out (DESIGN.md section 6), made small enough to run on one
machine for tests, the bench and users who want to try it: the nodes share one Redis, which
routes rooms, signal connections, agent dispatches and jobs between them, and every worker is a
separate ``python agents/multi_agent_worker.py start`` process registered with one of the nodes.
The dashboard attaches to any node with ``--no-worker``.

Every listener is on 127.0.0.1 (DESIGN.md section 5): Redis gets ``--bind 127.0.0.1``, each
node the loopback config of :class:`tui.core.local_server.ServerConfig` plus the Redis address, and
each worker's health server binds loopback (``build_server`` passes ``host="127.0.0.1"``).

All nodes share one API key and secret: a token or API call signed for one node is valid on
every node, which is what lets the dashboard create a room through one node and observe it
through another. The secret is never printed; :func:`write_env_file` stores it in a 0600 file.

Run ``python -m tui.cluster`` (or ``make cluster``) to start a cluster in the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType

from tui.core.local_server import (
    LOOPBACK,
    PROJECT_ROOT,
    LocalServer,
    LocalServerError,
    ServerConfig,
    free_port,
)

WORKER_SCRIPT = PROJECT_ROOT / "agents" / "multi_agent_worker.py"
DEFAULT_ENV_FILE = PROJECT_ROOT / ".dispatch-tui" / "cluster.env"
DEFAULT_NODES = 2
DEFAULT_WORKERS = 2
REDIS_READY_TIMEOUT_S = 10.0
NODE_READY_TIMEOUT_S = 30.0
WORKER_READY_TIMEOUT_S = 60.0
"""Generous: a worker imports livekit-agents and its plugins before it registers, which takes
several seconds on a small, busy machine."""
STOP_TIMEOUT_S = 10.0
"""SIGTERM grace. A ``start`` worker drains (waits for its jobs to end) on SIGTERM, for up to
its drain timeout: a conversation still running at shutdown is cut off by SIGKILL after this."""

DEFAULT_WORKER_CAPACITY = 10
"""Calls per worker (``DISPATCH_WORKER_CAPACITY``) given to local workers (see :class:`Cluster`).

A worker with a capacity reports its load as calls in use / capacity instead of the whole
machine's CPU. The CPU figure is the same for every worker on one machine, and on a small busy
one it crosses livekit-server's target load (0.7) within seconds, after which the server drops
new dispatches ("no servers available") with nothing retrying them. With a capacity, a worker
counts as busy once it runs ``calls_per_worker(capacity)`` calls (7 of 10), so two workers
take about 14 calls at once; real deployments size it to what one machine can run."""

DEFAULT_WORKER_NODE = 0
"""The node every local worker registers with, unless :class:`Cluster` is told otherwise.

How livekit-server (v1.13.5) places a job, from its source and measured on this cluster: the
nodes claim the job with their workers' spare load, and within the winning node the worker
is drawn at random, weighted by its spare load. Workers report their load every 2.5 s, so in
a burst of rooms every node claims with the same figure and which node wins is a race, not a
choice: with one worker per node, ten rooms created at once landed 10/0, 2/8 and 5/5 (also
19/1 of 20). With both workers on one node every job is a weighted draw between them: ten
rooms at once landed 4/6, 3/7, 3/7 and 2/8, nothing dropped. Rooms on the other nodes reach
the workers through Redis all the same."""


def calls_per_worker(capacity: int, target_load: float = 0.7) -> int:
    """Calls after which a worker of ``capacity`` reports a load at the server's target."""
    return next(calls for calls in range(1, capacity + 1) if calls / capacity >= target_load)


_REGISTERED = "registered worker"
_WORKER_ID = re.compile(r"\bAW_[A-Za-z0-9]+\b")


class ClusterError(RuntimeError):
    """A part of the local cluster could not be found, started or reached (one line)."""


def find_redis_binary() -> Path:
    """Locate ``redis-server``: ``$REDIS_SERVER_BIN``, else PATH (the Debian package)."""
    override = os.environ.get("REDIS_SERVER_BIN")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ClusterError(f"REDIS_SERVER_BIN={override} is not an executable file")
        return path
    # the Debian package installs into /usr/bin, which a minimal PATH may still lack
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found:
        return Path(found)
    raise ClusterError("redis-server not found: run `make redis` (apt-get install redis-server)")


def _terminate(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM the child, SIGKILL its whole process group if it does not exit in time.

    Children are started in their own session, so the process group holds the child and
    everything it spawned (a worker's job processes): killing the group leaves nothing behind.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
    _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (leftover grandchildren included) and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(path: Path | None, lines: int = 5) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(empty log)"


class RedisServer:
    """A ``redis-server`` child on 127.0.0.1 with no persistence: the cluster's shared state.

    Nothing is written to disk (``--save ''``, no AOF): a cluster's rooms live as long as its
    nodes. Protected mode stays on; it only matters for non-loopback clients, which the bind
    address already excludes.
    """

    def __init__(self, workdir: Path, port: int | None = None, binary: Path | None = None) -> None:
        self.port = port or free_port()
        self._workdir = workdir
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, the form livekit-server's ``redis.address`` takes."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._workdir / "redis.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = REDIS_READY_TIMEOUT_S) -> None:
        """Start Redis and block until it answers PING, or raise ClusterError."""
        if self._process is not None:
            raise ClusterError("redis-server already started")
        binary = self._binary or find_redis_binary()
        command = [
            str(binary),
            "--bind", LOOPBACK,
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._workdir),
            "--daemonize", "no",
            "--logfile", "",  # to stdout, which goes to our log file
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the launcher, which stops us in order
            )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def ping(self) -> bool:
        """Whether Redis answers ``PING`` (RESP inline command) on its port right now."""
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ClusterError(
                    f"redis-server exited with code {self._process.returncode} during start-up: "
                    f"{_tail(self.log_path)}"
                )
            if self.ping():
                return
            time.sleep(0.05)
        raise ClusterError(f"redis-server did not answer on {self.address} within {timeout_s:g}s")

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop Redis (idempotent)."""
        process, self._process = self._process, None
        if process is not None:
            _terminate(process, timeout_s)


def node_configs(
    count: int, redis_address: str, base: ServerConfig | None = None
) -> list[ServerConfig]:
    """``count`` node configs on their own free loopback ports, sharing key, secret and Redis.

    ``base`` gives the credentials and room timeouts (a fresh ``ServerConfig`` by default).
    """
    if count < 1:
        raise ValueError("a cluster needs at least one node")
    base = base or ServerConfig.generate()
    configs: list[ServerConfig] = []
    for _ in range(count):
        fresh = ServerConfig.generate()  # only for its free ports
        configs.append(
            dataclasses.replace(
                base,
                http_port=fresh.http_port,
                udp_port=fresh.udp_port,
                redis_address=redis_address,
            )
        )
    return configs


class HeadlessWorker:
    """One ``python agents/multi_agent_worker.py start`` process, registered with one node.

    The worker reads ``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET`` and
    ``DISPATCH_VOICE`` from its environment (the secret is never on a command line, where
    ``ps`` would show it). Its output goes to ``log_path``; :meth:`wait_registered` reads the
    worker id the server assigned from that log, which is what ties a job's ``worker_id`` (see
    :mod:`tui.core.control_plane_jobs`) to this process.
    """

    def __init__(
        self,
        index: int,
        url: str,
        api_key: str,
        api_secret: str,
        log_path: Path,
        *,
        voice: str = "offline",
        python: str = sys.executable,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.index = index
        self.url = url
        self.log_path = log_path
        self._api_key = api_key
        self._api_secret = api_secret
        self._voice = voice
        self._python = python
        self._extra_env = dict(extra_env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._worker_id: str | None = None
        self._reaped = False
        self.cancelled = threading.Event()
        """Set to abandon :meth:`wait_registered` (Ctrl-C during start-up)."""

    def __repr__(self) -> str:
        return f"HeadlessWorker(index={self.index}, pid={self.pid}, worker_id={self._worker_id})"

    @property
    def name(self) -> str:
        return f"worker-{self.index}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    @property
    def worker_id(self) -> str | None:
        """The id the server gave this worker at registration (None before it registered)."""
        return self._worker_id

    def environment(self) -> dict[str, str]:
        """The child's environment: ours, plus the server, credentials and voice."""
        env = dict(os.environ)
        env.update(self._extra_env)
        env.update(
            LIVEKIT_URL=self.url,
            LIVEKIT_API_KEY=self._api_key,
            LIVEKIT_API_SECRET=self._api_secret,
            DISPATCH_VOICE=self._voice,
            # registration is detected from the log: it must not sit in a pipe buffer
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        """Launch the process; it registers in the background (see :meth:`wait_registered`)."""
        if self._process is not None:
            raise ClusterError(f"{self.name} already started")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [self._python, str(WORKER_SCRIPT), "start"],
                cwd=PROJECT_ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # own process group: the worker and its job processes are stopped together,
                # and Ctrl-C in the terminal reaches only the launcher
                start_new_session=True,
            )

    def poll_registered(self) -> str | None:
        """The worker id once the log shows the registration, else None."""
        if self._worker_id is None and self.log_path.exists():
            for line in self.log_path.read_text(errors="replace").splitlines():
                if _REGISTERED in line and (match := _WORKER_ID.search(line)):
                    self._worker_id = match.group(0)
                    break
        return self._worker_id

    def wait_registered(self, timeout_s: float = WORKER_READY_TIMEOUT_S) -> str:
        """Block until the worker registered with its node; its worker id."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (worker_id := self.poll_registered()) is not None:
                return worker_id
            if self.cancelled.is_set():
                raise ClusterError(f"{self.name}: start-up cancelled")
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process else None
                raise ClusterError(
                    f"{self.name} exited with code {code} before registering: "
                    f"{_tail(self.log_path)}"
                )
            time.sleep(0.1)
        raise ClusterError(
            f"{self.name} did not register with {self.url} within {timeout_s:g}s; "
            f"see {self.log_path}"
        )

    def kill(self) -> None:
        """SIGKILL the worker and its job processes at once: a crashed machine, no drain."""
        if self._process is not None and not self._reaped:
            self._reaped = True
            _kill_group(self._process)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (the CLI drains its jobs), then SIGKILL the group after ``timeout_s``.

        Idempotent. The process object is kept so that ``returncode`` stays readable; the flag
        makes sure a reaped pid, which the system may reuse, is never signalled again.
        """
        if self._process is not None and not self._reaped:
            self._reaped = True
            _terminate(self._process, timeout_s)


class Cluster:
    """Redis, ``nodes`` livekit-server nodes and ``workers`` headless workers, started in order.

    Use as a context manager: ``start()`` stops whatever already started when a later part
    fails (or on Ctrl-C), and ``stop()`` stops workers, then nodes, then Redis, and is
    idempotent. Worker ``i`` registers with node ``worker_nodes[i]``, by default
    :data:`DEFAULT_WORKER_NODE` for all (see there why), so the jobs of the other nodes' rooms
    travel through Redis to workers registered elsewhere. ``capacity`` is each worker's
    ``DISPATCH_WORKER_CAPACITY`` (:data:`DEFAULT_WORKER_CAPACITY`).
    """

    def __init__(
        self,
        *,
        nodes: int = DEFAULT_NODES,
        workers: int = DEFAULT_WORKERS,
        voice: str = "offline",
        base_config: ServerConfig | None = None,
        workdir: Path | None = None,
        worker_env: dict[str, str] | None = None,
        capacity: int = DEFAULT_WORKER_CAPACITY,
        worker_nodes: Sequence[int] | None = None,
    ) -> None:
        if nodes < 1 or workers < 0:
            raise ValueError("a cluster needs at least one node and no negative worker count")
        if capacity < 1:
            raise ValueError("a worker's capacity is at least one call")
        self._node_count = nodes
        self._worker_count = workers
        self._voice = voice
        self._base = base_config or ServerConfig.generate()
        self._worker_nodes = (
            list(worker_nodes) if worker_nodes is not None else [DEFAULT_WORKER_NODE] * workers
        )
        if len(self._worker_nodes) != workers or not all(
            0 <= node < nodes for node in self._worker_nodes
        ):
            raise ValueError(f"worker_nodes needs one node index (0..{nodes - 1}) per worker")
        self.capacity = capacity
        """Calls per worker (``DISPATCH_WORKER_CAPACITY``); an explicit worker_env value wins."""
        self._worker_env = {"DISPATCH_WORKER_CAPACITY": str(capacity), **(worker_env or {})}
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="dispatch-tui-cluster-"))
        self.redis: RedisServer | None = None
        self.nodes: list[LocalServer] = []
        self.workers: list[HeadlessWorker] = []
        self._cancelled = threading.Event()

    def cancel_start(self) -> None:
        """Make a ``start()`` running on another thread give up soon (it then stops all)."""
        self._cancelled.set()
        for worker in self.workers:
            worker.cancelled.set()

    @property
    def api_key(self) -> str:
        return self._base.api_key

    @property
    def api_secret(self) -> str:
        return self._base.api_secret

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def worker_by_id(self, worker_id: str) -> HeadlessWorker | None:
        """The worker process the server knows as ``worker_id``, if it is one of ours."""
        return next((w for w in self.workers if w.worker_id == worker_id), None)

    def start(
        self,
        *,
        progress: Callable[[str], None] | None = None,
        worker_timeout_s: float = WORKER_READY_TIMEOUT_S,
    ) -> None:
        """Start everything and wait until every worker has registered, or raise ClusterError."""
        say = progress or (lambda _line: None)
        try:
            self.redis = RedisServer(self.workdir)
            self.redis.start()
            say(f"redis-server on {self.redis.address}")
            for index, config in enumerate(
                node_configs(self._node_count, self.redis.address, self._base)
            ):
                node = LocalServer(config)
                self.nodes.append(node)
                try:
                    node.start(NODE_READY_TIMEOUT_S)
                except LocalServerError as exc:
                    raise ClusterError(f"node {index}: {exc}") from None
                say(f"node {index}: {node.url}")
            for index in range(self._worker_count):
                node = self.nodes[self._worker_nodes[index]]
                worker = HeadlessWorker(
                    index,
                    node.url,
                    self.api_key,
                    self.api_secret,
                    self.workdir / f"worker-{index}.log",
                    voice=self._voice,
                    extra_env=self._worker_env,
                )
                if self._cancelled.is_set():
                    raise ClusterError("start-up cancelled")
                self.workers.append(worker)
                worker.start()
                if self._cancelled.is_set():
                    worker.cancelled.set()
            # the workers import in parallel; wait for all of them only now
            for worker in self.workers:
                worker_id = worker.wait_registered(worker_timeout_s)
                say(f"{worker.name}: pid {worker.pid}, {worker_id}, on {worker.url}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop workers (in parallel: each may wait out its drain), nodes, then Redis."""
        stoppers = [threading.Thread(target=w.stop, daemon=True) for w in self.workers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for node in reversed(self.nodes):
            node.stop()
        if self.redis is not None:
            self.redis.stop()

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def env_lines(self, node: int = 0) -> list[str]:
        """``KEY=value`` lines a dashboard needs to attach to ``node`` (secret included)."""
        return [
            f"LIVEKIT_URL={self.nodes[node].url}",
            f"LIVEKIT_API_KEY={self.api_key}",
            f"LIVEKIT_API_SECRET={self.api_secret}",
        ]


def write_env_file(cluster: Cluster, path: Path = DEFAULT_ENV_FILE, node: int = 0) -> Path:
    """Write the dashboard's settings for ``node`` to ``path``, readable by the owner only.

    The file is created with mode 0600 before the secret is written, so it is never readable
    by others, not even for a moment.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a file left by someone else could have wider permissions
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# dispatch-tui local cluster; valid while `make cluster` runs\n")
        handle.write("\n".join(cluster.env_lines(node)) + "\n")
    return path


# --- the foreground launcher: python -m tui.cluster / make cluster ------------------------------


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
        type=int,
        default=DEFAULT_WORKER_CAPACITY,
        help=f"calls per worker (DISPATCH_WORKER_CAPACITY, {DEFAULT_WORKER_CAPACITY}); the "
        "server gives a worker no more jobs once it runs 70%% of it",
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


@contextlib.contextmanager
def local_cluster(nodes: int = DEFAULT_NODES, workers: int = DEFAULT_WORKERS) -> Iterator[Cluster]:
    """Run a cluster for the duration of a ``with`` block."""
    cluster = Cluster(nodes=nodes, workers=workers)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
