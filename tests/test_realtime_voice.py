"""The realtime voice: per-persona configuration, and clear one-line failures without a key."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys

import pytest
from helpers import PROJECT
from livekit.plugins import openai

from agents.multi_agent_worker import build_server, default_scenario
from agents.scenario import DEFAULT_MODEL
from agents.voices import VoiceConfigError, build_realtime_model, build_session, describe_voice

SCENARIO = default_scenario()


@pytest.mark.parametrize(("role", "voice"), [("dispatcher", "alloy"), ("driver", "echo")])
def test_realtime_model_per_persona(role: str, voice: str) -> None:
    persona = SCENARIO.persona(role)  # type: ignore[arg-type]
    model = build_realtime_model(persona, {"OPENAI_API_KEY": "sk-test"})
    assert isinstance(model, openai.realtime.RealtimeModel)
    assert model.model == DEFAULT_MODEL
    assert model._opts.voice == voice
    # plugin 1.8.9 accepts temperature but keeps it nowhere: the Realtime API has none
    assert not hasattr(model._opts, "temperature")
    described = describe_voice("realtime", SCENARIO, role)  # type: ignore[arg-type]
    assert described.voice == voice
    assert described.temperature == persona.temperature == (0.8 if role == "dispatcher" else 0.7)
    assert described.temperature_applied is False


async def test_realtime_session_has_no_stt_vad_or_tts() -> None:
    session = build_session("realtime", SCENARIO, "dispatcher", {"OPENAI_API_KEY": "sk-test"})
    assert isinstance(session.llm, openai.realtime.RealtimeModel)
    assert session.stt is None and session.vad is None and session.tts is None
    assert session.turn_detection == "manual"


def test_missing_key_is_one_clear_line() -> None:
    with pytest.raises(VoiceConfigError) as info:
        build_realtime_model(SCENARIO.dispatcher, {})
    message = str(info.value)
    assert "\n" not in message
    assert "OPENAI_API_KEY" in message and "DISPATCH_VOICE=offline" in message


def test_build_server_refuses_realtime_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(VoiceConfigError, match="OPENAI_API_KEY is not set"):
        build_server(voice="realtime", ws_url="ws://127.0.0.1:1", api_key="k", api_secret="s")


def run_worker_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, str(PROJECT / "agents" / "multi_agent_worker.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        cwd="/",  # the script must find its package from anywhere
    )


def test_script_reports_a_bad_voice_in_one_line() -> None:
    result = run_worker_script("dev", DISPATCH_VOICE="robot")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "error: DISPATCH_VOICE='robot' is not a voice: use 'realtime' or 'offline'"
    )


def test_script_reports_a_missing_key_in_one_line() -> None:
    result = run_worker_script("start", DISPATCH_VOICE="realtime")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: OPENAI_API_KEY is not set")


def test_script_runs_the_livekit_cli() -> None:
    result = run_worker_script("--help", DISPATCH_VOICE="offline")
    assert result.returncode == 0, result.stderr
    assert "dev" in result.stdout and "start" in result.stdout


async def test_rejected_key_is_logged_once_as_a_clear_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A loopback stand-in for the OpenAI endpoint rejects the key like the real one does."""
    from aiohttp import web

    from agents.dispatcher_agent import DispatcherAgent
    from agents.multi_agent_worker import _attach_session_events

    async def reject(_request: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}},
            status=401,
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", reject)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")

    reported: list[tuple[str, str, dict[str, object]]] = []
    failed = asyncio.Event()

    def sink(role: str, kind: str, payload: dict[str, object]) -> None:
        reported.append((role, kind, payload))
        if kind == "error" and not payload["recoverable"]:
            failed.set()

    session = build_session("realtime", SCENARIO, "dispatcher", {"OPENAI_API_KEY": "sk-bad"})
    _attach_session_events(session, "dispatcher", sink)
    caplog.set_level(logging.INFO, logger="multi_agent_worker")
    try:
        await session.start(DispatcherAgent(SCENARIO), record=False)
        await asyncio.wait_for(failed.wait(), 60)
    finally:
        await session.aclose()
        assert session.llm is not None
        await session.llm.aclose()
        await runner.cleanup()

    errors = [r for r in caplog.records if r.name == "multi_agent_worker"]
    unrecoverable = [r for r in errors if r.levelno >= logging.ERROR]
    assert len(unrecoverable) == 1
    line = unrecoverable[0].getMessage()
    assert "\n" not in line and line.startswith("Dispatcher session error")
    assert "401" in line or "API key" in line
    assert any(kind == "error" for _, kind, _ in reported)
