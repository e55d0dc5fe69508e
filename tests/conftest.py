"""Shared fixtures: one real loopback livekit-server for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tui.backend import release_native_runtime
from tui.local_server import LocalServer


@pytest.fixture(scope="session")
def livekit_server() -> Iterator[LocalServer]:
    """A real livekit-server on loopback with its own key and secret, stopped after the suite."""
    server = LocalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Release the rtc runtime before interpreter exit (see release_native_runtime)."""
    release_native_runtime()
