"""Secrets stay secret: a full conversation and the common failures, with the log capture the
dashboard uses, then a search of everything written, raised or shown for the API secret, the
OpenAI key and any JWT. And the tokens the dashboard and the worker mint are least-privilege.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from livekit import api
from reliability_support import Recorder, backend_for, write_scenario

import agents.call_job as call_job_module
import tui.core.room_watch as room_watch_module
from agents.call_job import _agent_room_token
from agents.scenario import load_scenario
from agents.tokens import OBSERVER_TTL, observer_token
from agents.worker_config import WorkerConfig
from tui.core.control_plane import ControlPlane, ControlPlaneError
from tui.core.local_server import LocalServer, ServerConfig
from tui.core.log_bridge import LogCapture
from tui.core.observer import ObserverError, RoomObserver
from tui.core.settings import LiveKitSettings

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30.0
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")


def assert_clean(where: str, text: str, forbidden: list[str]) -> None:
    for value in forbidden:
        assert value not in text, f"a secret appears in {where}"
    match = JWT.search(text)
    assert match is None, f"a token appears in {where}: {match.group(0)[:12]}..."


async def test_conversation_and_failures_leak_no_secret(
    livekit_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_key = "sk-test-" + secrets.token_urlsafe(32)
    monkeypatch.setenv("OPENAI_API_KEY", openai_key)  # set, but the voice is offline
    minted: dict[str, list[str]] = {"observer": [], "driver": []}

    def record_observer_token(*args: Any, **kwargs: Any) -> str:
        token = observer_token(*args, **kwargs)
        minted["observer"].append(token)
        return token

    def record_driver_token(*args: Any, **kwargs: Any) -> str:
        token = _agent_room_token(*args, **kwargs)
        minted["driver"].append(token)
        return token

    monkeypatch.setattr(room_watch_module, "observer_token", record_observer_token)
    monkeypatch.setattr(call_job_module, "_agent_room_token", record_driver_token)

    log_path = tmp_path / "dispatch-tui.log"
    capture = LogCapture(log_path, level=logging.DEBUG).start()
    # As the app does: the backend reports its secrets, the capture redacts them from then on.
    recorder = Recorder(asyncio.get_running_loop(), on_secrets=capture.add_secrets)
    backend = backend_for(livekit_server, recorder)
    shown: list[str] = []  # what the dashboard would put on screen: errors and statuses
    scenario = write_scenario(tmp_path / "short.json", ["Hi Chris.", "Hi Tim.", "Bye.", "Bye."])
    try:
        await backend.start()
        assert backend.worker is not None
        assert (await backend.worker.wait_registered(TIMEOUT_S)).state == "registered"
        room = (await backend.create_room(scenario)).name
        await backend.observe(room)
        await recorder.wait_for(
            lambda: recorder.session_events(room, "conversation_ended") or None,
            TIMEOUT_S,
            "the conversation to end",
        )
        # A library logging a secret by mistake is redacted too (the capture knows it).
        logging.getLogger("livekit.agents").warning("connecting with %s", livekit_server.api_secret)
        await backend.delete_room(room)

        # Wrong secret: the control plane's message names the fix, not the secret.
        wrong_secret = "W" * 40
        with pytest.raises(ControlPlaneError) as refused:
            async with ControlPlane(
                livekit_server.url, livekit_server.api_key, wrong_secret
            ) as control:
                await control.list_rooms()
        assert "credentials rejected" in str(refused.value)
        shown += [str(refused.value), repr(refused.value)]

        # A token the server refuses (signed with another secret): the server echoes it in its
        # 401 reply and the rtc SDK logs that reply; neither may reach the screen or the log.
        bad_token = observer_token(livekit_server.api_key, wrong_secret, room)
        observer = RoomObserver(livekit_server.url, bad_token, room, recorder.sinks().event)
        with pytest.raises(ObserverError) as failed:
            await observer.start()
        await observer.aclose()
        shown += [str(failed.value), repr(failed.value), repr(observer)]
        capture.add_secrets([wrong_secret])
    finally:
        await backend.aclose()
        capture.close()

    settings = LiveKitSettings(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret, "test"
    )
    shown += [
        repr(settings),
        repr(backend.options),
        repr(livekit_server.config),
        repr(ServerConfig.generate()),
        repr(ControlPlane.from_settings(settings)),
        repr(WorkerConfig("offline", settings.url, settings.api_key, settings.api_secret)),
    ]
    events, workers, sessions = recorder.snapshot()
    shown += [repr(item) for item in (*events, *workers, *sessions, *recorder.servers)]
    forbidden = [livekit_server.api_secret, openai_key]

    written = log_path.read_text(encoding="utf-8")
    lines, _ = capture.buffer.drain()
    assert "Tim: Hi Chris." in written, "the capture saw the job thread's records"
    assert "could not join room" in written, "the capture saw the failed observer"
    assert "connecting with ***" in written, "the planted secret was redacted"
    assert_clean("the log file", written, forbidden)
    for line in lines:
        assert_clean("the log pane", line.text, forbidden)
    for text in shown:
        assert_clean(text[:60], text, forbidden)

    # The tokens actually used: the observer's hidden and publish-less, Chris's room-scoped.
    assert minted["observer"] and minted["driver"]
    verifier = api.TokenVerifier(livekit_server.api_key, livekit_server.api_secret)
    for token in minted["observer"]:
        claims = verifier.verify(token)
        assert claims.video is not None and claims.video.room == room
        assert claims.video.hidden and not claims.video.can_publish
        assert not claims.video.can_publish_data
        assert_short_lived(token, livekit_server, OBSERVER_TTL.total_seconds())
    for token in minted["driver"]:
        claims = verifier.verify(token)
        assert claims.identity == "driver-chris" and claims.kind == "agent"
        assert_room_scoped(claims.video, room)


def assert_short_lived(token: str, server: LocalServer, max_seconds: float) -> None:
    payload = jwt.decode(token, server.api_secret, algorithms=["HS256"])
    assert payload["exp"] - time.time() <= max_seconds + 5


def assert_room_scoped(video: api.VideoGrants | None, room: str) -> None:
    """Joins exactly ``room``; no server-wide power (create, list, admin, record, ingress)."""
    assert video is not None
    assert video.room_join and video.room == room
    assert not (video.room_create or video.room_list or video.room_admin or video.room_record)
    assert not (video.ingress_admin or video.agent or video.hidden or video.recorder)


def test_driver_token_is_room_scoped_and_expires() -> None:
    key, secret = "testkey", "a-test-secret-of-at-least-thirty-two-chars"
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "hdx-2478.json")
    config = WorkerConfig("offline", "ws://127.0.0.1:1", key, secret)
    token = _agent_room_token(config, scenario.driver, "conv_room_a")
    claims = api.TokenVerifier(key, secret).verify(token)
    assert claims.identity == "driver-chris" and claims.kind == "agent"
    assert_room_scoped(claims.video, "conv_room_a")
    payload = jwt.decode(token, secret, algorithms=["HS256"])
    assert payload["exp"] - time.time() <= call_job_module.AGENT_ROOM_TOKEN_TTL_S + 5
