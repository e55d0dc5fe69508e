"""The one place that touches private LiveKit SDK attributes, and the versions they were read on.

Each private attribute below was read from the pinned SDK sources (pyproject.toml): an upgrade
may rename or remove it. When that happens the accessor raises :class:`SdkCompatError` with one
line naming the attribute and the installed versions that differ from the pins, instead of an
``AttributeError`` deep in a job. :func:`version_drift` says the same before anything breaks.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobContext

logger = logging.getLogger("agents.compat")

SDK_PACKAGES: Final = ("livekit", "livekit-agents", "livekit-api")
"""The distributions whose private attributes this module reads."""

T = TypeVar("T")

_PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;,]+)")


class SdkCompatError(RuntimeError):
    """A private SDK attribute we rely on is gone: the SDK was upgraded past our pins."""


def _requirements() -> list[str]:
    """This project's declared dependencies: the installed metadata, else pyproject.toml."""
    try:
        return importlib.metadata.requires("dispatch-tui") or []
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        with pyproject.open("rb") as handle:
            dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
        return dependencies


def pinned_versions() -> dict[str, str]:
    """``{distribution: version}`` for the SDK packages pinned with ``==``."""
    pins: dict[str, str] = {}
    for requirement in _requirements():
        match = _PIN.match(requirement)
        if match and match.group(1).lower() in SDK_PACKAGES:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def installed_versions() -> dict[str, str]:
    """``{distribution: version}`` of the SDK packages installed now ("missing" if absent)."""
    versions: dict[str, str] = {}
    for name in SDK_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def version_drift() -> str:
    """``livekit-agents 1.9.0 installed, 1.8.9 pinned; ...`` or "" when all match the pins."""
    pinned, installed = pinned_versions(), installed_versions()
    return "; ".join(
        f"{name} {installed[name]} installed, {version} pinned"
        for name, version in sorted(pinned.items())
        if installed.get(name) != version
    )


def warn_on_version_drift() -> None:
    """Log one warning when the installed SDK differs from the pins (private attributes below
    may have changed)."""
    drift = version_drift()
    if drift:
        logger.warning("LiveKit SDK differs from the tested pins (%s): see agents/compat.py", drift)


def _private(what: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except (AttributeError, ImportError) as exc:
        drift = version_drift() or "installed versions match the pins"
        raise SdkCompatError(
            f"private SDK attribute {what} is gone ({drift}): pin the SDK back or update "
            f"agents/compat.py ({exc})"
        ) from exc


def job_server_url(ctx: JobContext) -> str:
    """The server URL the job was dispatched from (``JobContext._info.url``; no public API)."""
    return _private("JobContext._info.url", lambda: ctx._info.url)


PRELOAD_LOCAL_INFERENCE_ENV: Final = "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE"
"""Read by ``livekit.agents.ipc._preload`` (imported by every job's process or thread on its
first job): unset, it loads the local VAD and, in a process without a multiprocessing parent
(a thread-executor worker, the forkserver), the end-of-turn model's weights too."""


def skip_local_inference_preload() -> None:
    """Keep the SDK from loading its local VAD and end-of-turn models into the worker.

    No session here uses them (no VAD, manual turn detection: :mod:`agents.voices`), yet the
    SDK's warm-up loads them on the first job: measured, the first call grew a thread-executor
    worker by 270 MB, 240 MB of it these weights. Set before the first job, in the environment
    so that a forkserver and its job processes inherit it; an explicit setting wins.
    """
    os.environ.setdefault(PRELOAD_LOCAL_INFERENCE_ENV, "0")


def ensure_rtc_client() -> None:
    """Create this process's rtc FFI client now (``FfiClient.instance``, lazily created)."""

    def create() -> None:
        from livekit.rtc._ffi_client import FfiClient

        FfiClient.instance  # noqa: B018 - the property creates the client

    _private("livekit.rtc._ffi_client.FfiClient.instance", create)


def rtc_client_exists() -> bool:
    """Whether this process has created its rtc FFI client (``FfiClient._instance``)."""

    def read() -> bool:
        from livekit.rtc._ffi_client import FfiClient

        return FfiClient._instance is not None

    return _private("livekit.rtc._ffi_client.FfiClient._instance", read)


def release_rtc_client() -> None:
    """Dispose of the rtc FFI client, if any (``FfiClient._instance._dispose()``)."""

    def dispose() -> None:
        from livekit.rtc._ffi_client import FfiClient

        if FfiClient._instance is not None:
            FfiClient._instance._dispose()

    _private("livekit.rtc._ffi_client.FfiClient._instance._dispose", dispose)


def on_job_launched(server: AgentServer, callback: Callable[[str], None]) -> None:
    """Call ``callback(job_id)`` each time ``server`` launches a job (the process pool's
    ``process_job_launched`` event, ``AgentServer._proc_pool``; no public event). The pool
    exists once ``server.run()`` has started: attach from a request handler."""

    def attach() -> None:
        def launched(proc: Any) -> None:
            info = proc.running_job
            if info is not None:
                callback(info.job.id)

        server._proc_pool.on("process_job_launched", launched)

    _private("AgentServer._proc_pool", attach)
