"""A local LiveKit cluster: Redis, several ``livekit-server`` nodes and headless workers.

This is LiveKit's own way to scale out (docs/architecture.md, "Scaling out"), made small
enough to run on one machine for tests, the bench and users who want to try it: the nodes
share one Redis, which routes rooms, signal connections, agent dispatches and jobs between
them, and every worker is a separate ``python agents/multi_agent_worker.py start`` process
registered with one of the nodes. The dashboard attaches to any node with ``--no-worker``.

Every listener is on 127.0.0.1 (docs/architecture.md, "The local server"): Redis gets
``--bind 127.0.0.1``, each node the loopback config of
:class:`tui.core.local_server.ServerConfig` plus the Redis address, and each worker's health
server binds loopback (``build_server`` passes ``host="127.0.0.1"``).

All nodes share one API key and secret: a token or API call signed for one node is valid on
every node, which is what lets the dashboard create a room through one node and observe it
through another. The secret is never printed; :func:`write_env_file` stores it in a 0600 file.

The processes are in :mod:`tui.cluster.processes`; ``python -m tui.cluster`` (or
``make cluster``) starts a cluster in the foreground (:mod:`tui.cluster.__main__`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from tui.cluster.processes import (
    WORKER_READY_TIMEOUT_S,
    ClusterError,
    HeadlessWorker,
    RedisServer,
)
from tui.core.local_server import PROJECT_ROOT, LocalServer, LocalServerError, ServerConfig

DEFAULT_ENV_FILE = PROJECT_ROOT / ".dispatch-tui" / "cluster.env"
DEFAULT_NODES = 2
DEFAULT_WORKERS = 2
NODE_READY_TIMEOUT_S = 30.0

DEFAULT_WORKER_CAPACITY: int | None = None
"""Calls per worker given to local workers: None measures what each runs in real time.

A local cluster's workers share one machine, so each measures its share of the cores
(``DISPATCH_WORKERS_ON_MACHINE`` = the worker count; :mod:`agents.admission`) and refuses what
would not run in real time: livekit-server then offers the job to the other worker, and a job
no worker takes stays unassigned, visibly. A fixed ``capacity`` (``DISPATCH_WORKER_CAPACITY``)
takes that many calls whatever the machine: 20 calls on two workers of 15 on a 2-core machine
completed 17 of 20, with 15 lines lost. A worker with a fixed capacity reports its load as
calls in use / capacity and counts as busy once it runs ``calls_per_worker(capacity)`` calls
(7 of 10)."""

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


class Cluster:
    """Redis, ``nodes`` livekit-server nodes and ``workers`` headless workers, started in order.

    Use as a context manager: ``start()`` stops whatever already started when a later part
    fails (or on Ctrl-C), and ``stop()`` stops workers, then nodes, then Redis, and is
    idempotent. Worker ``i`` registers with node ``worker_nodes[i]``, by default
    :data:`DEFAULT_WORKER_NODE` for all (see there why), so the jobs of the other nodes' rooms
    travel through Redis to workers registered elsewhere. ``capacity`` is each worker's
    ``DISPATCH_WORKER_CAPACITY``, or None for the measured share (:data:`DEFAULT_WORKER_CAPACITY`).
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
        capacity: int | None = DEFAULT_WORKER_CAPACITY,
        worker_nodes: Sequence[int] | None = None,
    ) -> None:
        if nodes < 1 or workers < 0:
            raise ValueError("a cluster needs at least one node and no negative worker count")
        if capacity is not None and capacity < 1:
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
        """Calls per worker (``DISPATCH_WORKER_CAPACITY``), None for the measured share; an
        explicit worker_env value wins."""
        limit = (
            {"DISPATCH_WORKERS_ON_MACHINE": str(max(workers, 1))}
            if capacity is None
            else {"DISPATCH_WORKER_CAPACITY": str(capacity)}
        )
        self._worker_env = {**limit, **(worker_env or {})}
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
    def worker_env(self) -> dict[str, str]:
        """What every worker's environment gets on top of the cluster's credentials."""
        return dict(self._worker_env)

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


@contextlib.contextmanager
def local_cluster(nodes: int = DEFAULT_NODES, workers: int = DEFAULT_WORKERS) -> Iterator[Cluster]:
    """Run a cluster for the duration of a ``with`` block."""
    cluster = Cluster(nodes=nodes, workers=workers)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
