"""Start and stop a loopback-only ``livekit-server`` child process.

Used by the dashboard when no ``LIVEKIT_URL`` is configured and by the test fixtures. Every
listener is bound to 127.0.0.1 (docs/architecture.md, "The local server"): HTTP/WebSocket on
``bind_addresses``,
ICE/UDP on one muxed port, ICE/TCP disabled, and only the loopback interface offered as a
candidate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.child_process import ChildExited, log_tail, spawn, terminate, wait_ready

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
DEFAULT_READY_TIMEOUT_S = 20.0


class LocalServerError(RuntimeError):
    """The local livekit-server could not be found, started or reached."""


def find_server_binary() -> Path:
    """Locate ``livekit-server``: ``$LIVEKIT_SERVER_BIN``, the project's ``.tools/bin``, PATH."""
    override = os.environ.get("LIVEKIT_SERVER_BIN")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LocalServerError(
                f"LIVEKIT_SERVER_BIN={override} is not an executable file: fix the path or unset it"
            )
        return path
    bundled = PROJECT_ROOT / ".tools" / "bin" / "livekit-server"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return bundled
    on_path = shutil.which("livekit-server")
    if on_path:
        return Path(on_path)
    raise LocalServerError(
        "livekit-server not found: run `make server` (builds it with go install) "
        "or set LIVEKIT_URL to use an existing server"
    )


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """Ask the kernel for a free loopback port of the given socket kind."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerConfig:
    """Everything needed to write a livekit-server config and to talk to the result."""

    http_port: int
    udp_port: int
    api_key: str
    api_secret: str = field(repr=False)
    empty_timeout_s: int = 300
    departure_timeout_s: int = 20
    redis_address: str = ""
    """``host:port`` of the Redis shared by the nodes of a cluster (tui/cluster/launcher.py);
    empty for a single node, which then keeps its state in memory."""

    @classmethod
    def generate(cls) -> ServerConfig:
        """Fresh key, a 48-character secret and free ports for one run."""
        return cls(
            http_port=free_port(socket.SOCK_STREAM),
            udp_port=free_port(socket.SOCK_DGRAM),
            api_key="dtui" + secrets.token_hex(6),
            api_secret=secrets.token_urlsafe(36),
        )

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def to_yaml(self) -> str:
        """The server config. JSON is valid YAML, and json.dumps quotes everything safely."""
        config = {
            "port": self.http_port,
            "bind_addresses": [LOOPBACK],
            "rtc": {
                "tcp_port": 0,  # 0 disables ICE/TCP, which otherwise binds every interface
                "udp_port": self.udp_port,
                "node_ip": LOOPBACK,
                "use_external_ip": False,
                "enable_loopback_candidate": True,
                "interfaces": {"includes": ["lo"]},
                "ips": {"includes": [f"{LOOPBACK}/32"]},
            },
            "room": {
                "empty_timeout": self.empty_timeout_s,
                "departure_timeout": self.departure_timeout_s,
            },
            "keys": {self.api_key: self.api_secret},
            "logging": {"level": "info", "json": False},
        }
        if self.redis_address:
            # with Redis the node joins a cluster: rooms, dispatches and agent jobs are routed
            # between the nodes sharing it
            config["redis"] = {"address": self.redis_address}
        return json.dumps(config, indent=2)


class LocalServer:
    """A ``livekit-server`` child process bound to loopback.

    Use as a context manager (sync or async); ``stop()`` is idempotent and always reaps the
    child, also when start-up fails half way.
    """

    def __init__(self, config: ServerConfig | None = None, binary: Path | None = None) -> None:
        self.config = config or ServerConfig.generate()
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def api_secret(self) -> str:
        return self.config.api_secret

    @property
    def log_path(self) -> Path | None:
        """Where the server's own output goes (it is never printed to the terminal)."""
        return self._workdir / "livekit-server.log" if self._workdir else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = DEFAULT_READY_TIMEOUT_S) -> None:
        """Start the child and block until its HTTP port answers, or raise LocalServerError."""
        if self._process is not None:
            raise LocalServerError("local livekit-server already started")
        binary = self._binary or find_server_binary()
        self._workdir = Path(tempfile.mkdtemp(prefix="dispatch-tui-server-"))
        config_path = self._workdir / "livekit.yaml"
        config_path.write_text(self.config.to_yaml())
        config_path.chmod(0o600)  # holds the secret
        assert self.log_path is not None
        self._process = spawn([str(binary), "--config", str(config_path)], self.log_path)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        assert self._process is not None
        try:
            answered = wait_ready(self._process, self._answers, timeout_s)
        except ChildExited as exited:
            raise LocalServerError(
                f"livekit-server exited with code {exited.returncode} during start-up: "
                f"{self.log_tail()}"
            ) from None
        if not answered:
            raise LocalServerError(
                f"livekit-server did not answer on {self.config.http_url} within "
                f"{timeout_s:.0f}s; see {self.log_path}"
            )

    def _answers(self) -> bool:
        """Readiness: the HTTP port answers ``GET /``."""
        try:
            with urllib.request.urlopen(self.config.http_url + "/", timeout=1.0) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 5) -> str:
        """The end of the server's log on one line."""
        return log_tail(self.log_path, lines)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the child (then kill it if needed) and remove its config."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout_s)
        if self._workdir is not None:
            with contextlib.suppress(OSError):
                (self._workdir / "livekit.yaml").unlink()

    async def astart(self, timeout_s: float = DEFAULT_READY_TIMEOUT_S) -> None:
        await asyncio.to_thread(self.start, timeout_s)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalServer:
        await self.astart()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()


@contextlib.contextmanager
def local_server(timeout_s: float = DEFAULT_READY_TIMEOUT_S) -> Iterator[LocalServer]:
    """Run a local server for the duration of a ``with`` block."""
    server = LocalServer()
    server.start(timeout_s)
    try:
        yield server
    finally:
        server.stop()
