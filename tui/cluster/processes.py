"""The cluster's own child processes: Redis and the headless workers (nodes are
:class:`~tui.core.local_server.LocalServer`). Each is started, awaited and stopped through
:mod:`tui.core.child_process`, so none outlives the cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

from tui.core.child_process import ChildExited, kill_group, log_tail, spawn, terminate, wait_ready
from tui.core.local_server import LOOPBACK, PROJECT_ROOT, free_port

WORKER_SCRIPT = PROJECT_ROOT / "agents" / "multi_agent_worker.py"
REDIS_READY_TIMEOUT_S: Final = 10.0
WORKER_READY_TIMEOUT_S: Final = 60.0
"""Generous: a worker imports livekit-agents and its plugins before it registers, which takes
several seconds on a small, busy machine."""
STOP_TIMEOUT_S: Final = 10.0
"""SIGTERM grace. A ``start`` worker drains (waits for its jobs to end) on SIGTERM, for up to
its drain timeout: a conversation still running at shutdown is cut off by SIGKILL after this."""

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
        self._process = spawn(command, self.log_path)
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
        assert self._process is not None
        try:
            answered = wait_ready(self._process, self.ping, timeout_s)
        except ChildExited as exited:
            raise ClusterError(
                f"redis-server exited with code {exited.returncode} during start-up: "
                f"{log_tail(self.log_path)}"
            ) from None
        if not answered:
            raise ClusterError(
                f"redis-server did not answer on {self.address} within {timeout_s:g}s"
            )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop Redis (idempotent)."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout_s)


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
        # own process group: the worker and its job processes are stopped together
        self._process = spawn(
            [self._python, str(WORKER_SCRIPT), "start"],
            self.log_path,
            cwd=PROJECT_ROOT,
            env=self.environment(),
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
        if self._process is None:
            raise ClusterError(f"{self.name} exited with code None before registering")

        def registered() -> bool:
            if self.poll_registered() is not None:
                return True
            if self.cancelled.is_set():
                raise ClusterError(f"{self.name}: start-up cancelled")
            return False

        try:
            if wait_ready(self._process, registered, timeout_s, poll_s=0.1):
                assert self._worker_id is not None
                return self._worker_id
        except ChildExited as exited:
            raise ClusterError(
                f"{self.name} exited with code {exited.returncode} before registering: "
                f"{log_tail(self.log_path)}"
            ) from None
        raise ClusterError(
            f"{self.name} did not register with {self.url} within {timeout_s:g}s; "
            f"see {self.log_path}"
        )

    def kill(self) -> None:
        """SIGKILL the worker and its job processes at once: a crashed machine, no drain."""
        if self._process is not None and not self._reaped:
            self._reaped = True
            kill_group(self._process)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (the CLI drains its jobs), then SIGKILL the group after ``timeout_s``.

        Idempotent. The process object is kept so that ``returncode`` stays readable; the flag
        makes sure a reaped pid, which the system may reuse, is never signalled again.
        """
        if self._process is not None and not self._reaped:
            self._reaped = True
            terminate(self._process, timeout_s)
