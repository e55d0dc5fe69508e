"""Shared fixtures: one real loopback livekit-server for the whole suite."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from agents.constants import DEV_WORKER_CAPACITY
from tui.core.backend import release_native_runtime
from tui.core.control_plane import ControlPlane
from tui.core.local_server import LocalServer, ServerConfig

# Property tests explore the same examples on every run: a suite that passes once passes every
# time (a new counterexample comes from widening a strategy, not from luck in CI).
settings.register_profile("dispatch", derandomize=True, deadline=None)
settings.load_profile("dispatch")

# Call records of every dashboard, doctor and run in the suite go to a folder of its own, never
# to the user's ~/.local/state (child processes inherit it too).
_STATE_HOME = tempfile.mkdtemp(prefix="dispatch-tui-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME
os.environ.pop("DISPATCH_RECORD_DIR", None)
atexit.register(shutil.rmtree, _STATE_HOME, ignore_errors=True)
# Workers in the suite take a fixed count of calls (tests place several at once on a machine
# loaded by the suite itself); a measured capacity is tested where it is the subject.
os.environ.setdefault("DISPATCH_WORKER_CAPACITY", str(DEV_WORKER_CAPACITY))


@pytest.fixture(scope="session")
def livekit_server() -> Iterator[LocalServer]:
    """A real livekit-server on loopback with its own key and secret, stopped after the suite."""
    server = LocalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def own_server() -> AsyncIterator[LocalServer]:
    """A server of this test's own, with fresh credentials: for tests that stop it, count its
    rooms, or need its dispatcher free of what earlier tests left behind."""
    local = LocalServer(ServerConfig.generate())
    await local.astart()
    try:
        yield local
    finally:
        await local.astop()


@pytest.fixture
async def control_plane(livekit_server: LocalServer) -> AsyncIterator[ControlPlane]:
    """The room control plane on the shared server."""
    async with ControlPlane(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as plane:
        yield plane


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Release the rtc runtime before interpreter exit (see release_native_runtime)."""
    release_native_runtime()
