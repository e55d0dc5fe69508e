"""The realtime stand-in on its own: livekit-plugins-openai's realtime session understands it
(speech at 24 kHz with its transcript, each injected fault as the plugin meets the real one),
and the script runs alone with a log of every client event."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import PROJECT, eventually
from livekit.agents import APIError, llm
from livekit.plugins import openai
from realtime_faults import Fault, FaultError, parse_fault
from realtime_standin import RealtimeStandIn
from realtime_wire import LEAD_S, SAMPLE_RATE

from agents.bundled import default_scenario_file
from agents.scenario import load_scenario

MODEL = "gpt-4o-realtime-preview-2024-12-17"
TIM_FIRST, TIM_SECOND = load_scenario(default_scenario_file()).lines_for("dispatcher")[:2]
INSTRUCTIONS = "You are Tim, a freight dispatcher on a phone call with Chris."


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("http_401", Fault("http_401")),
        ("key_rejected,voice=echo", Fault("key_rejected", voice="echo")),
        ("socket_closed, voice=alloy, response=2", Fault("socket_closed", "alloy", 2)),
        ("slow_first_audio,seconds=1.5", Fault("slow_first_audio", seconds=1.5)),
    ],
)
def test_fault_specs(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("explode", "unknown fault 'explode'"),
        ("http_401,voice=echo", "the handshake carries none"),
        ("key_rejected,response=2", "at connection, not on a response"),
        ("slow_first_audio", "needs seconds=N"),
        ("rate_limited,turn=2", "bad fault option 'turn=2'"),
        ("rate_limited,response=two", "bad number"),
    ],
)
def test_bad_fault_specs_are_one_line(spec: str, says: str) -> None:
    with pytest.raises(FaultError) as info:
        parse_fault(spec)
    assert says in str(info.value) and "\n" not in str(info.value)


@pytest.fixture
async def model() -> AsyncIterator[Any]:
    """Build a plugin model for a stand-in: ``await model(stand_in)``; closed afterwards."""
    built: list[openai.realtime.RealtimeModel] = []

    def make(stand_in: RealtimeStandIn) -> openai.realtime.RealtimeModel:
        built.append(
            openai.realtime.RealtimeModel(
                model=MODEL, voice="alloy", api_key="sk-test", base_url=stand_in.base_url
            )
        )
        return built[-1]

    yield make
    for each in built:
        await each.aclose()


async def reply(session: Any, timeout_s: float = 20) -> tuple[str, list[Any], float]:
    """Ask for one reply: its transcript, audio frames and seconds to the first frame."""
    asked = time.monotonic()
    generation: llm.GenerationCreatedEvent = await asyncio.wait_for(
        session.generate_reply(instructions="open the call"), timeout_s
    )
    try:
        message = await asyncio.wait_for(generation.message_stream.__anext__(), timeout_s)
    except StopAsyncIteration:  # the response ended without a message
        return "", [], 0.0
    frames, first = [], 0.0
    async for frame in message.audio_stream:
        first = first or time.monotonic() - asked
        frames.append(frame)
    text = "".join([chunk async for chunk in message.text_stream])
    return text, frames, first


async def test_a_reply_is_real_speech_at_24_khz_streamed_in_real_time(model: Any) -> None:
    async with RealtimeStandIn() as stand_in:
        session = model(stand_in).session()
        try:
            await session.update_instructions(INSTRUCTIONS)
            started = time.monotonic()
            text, frames, _ = await reply(session)
            elapsed = time.monotonic() - started
        finally:
            await session.aclose()
    assert text == TIM_FIRST
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(SAMPLE_RATE, 1)}
    samples = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    seconds = len(samples) / SAMPLE_RATE
    assert 3.0 < seconds < 10.0, seconds  # a 14-word line
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 1000  # speech, not silence
    assert elapsed >= seconds - LEAD_S - 0.2, (elapsed, seconds)  # paced, not dumped at once
    configs = stand_in.session_configs()
    assert [c["audio"]["output"]["voice"] for c in configs.values()] == ["alloy"]
    assert [c["model"] for c in configs.values()] == [MODEL]


async def test_each_fault_reaches_the_plugin_as_the_real_failure_does(model: Any) -> None:
    async with RealtimeStandIn(faults=[parse_fault("slow_first_audio,seconds=1.5")]) as stand_in:
        session = model(stand_in).session()
        try:
            await session.update_instructions(INSTRUCTIONS)
            _, _, first_audio = await reply(session)
            assert first_audio >= 1.5

            stand_in.reset([Fault("error_event", response=1)])
            with pytest.raises(llm.RealtimeError, match="The server had an error"):
                await reply(session)

            errors: list[Any] = []
            session.on("error", errors.append)
            stand_in.reset([Fault("rate_limited", response=1)])
            text, frames, _ = await reply(session)
            assert (text, frames) == ("", [])
            await eventually(lambda: errors, 5, "the rate limit error")
            assert errors[0].recoverable and errors[0].error.body.code == "rate_limit_exceeded"

            stand_in.reset([Fault("socket_closed", response=1)])
            text, _, _ = await reply(session)
            # Tim's next line (the failed responses said nothing), cut halfway
            assert TIM_SECOND.startswith(text) and text != TIM_SECOND
            await eventually(lambda: len(stand_in.open_sessions) == 1, 10, "the reconnection")
            assert [e.recoverable for e in errors[1:]] == [True]  # then a clean reply again
            assert (await reply(session))[0]
        finally:
            await session.aclose()


async def test_each_persona_says_its_next_line_whoever_else_speaks(model: Any) -> None:
    # three agents: Chris hears Tim and Rosa before each of his turns, so the lines he heard
    # do not say which of his is due; his own do, replayed ones included (a reconnection)
    kdc = load_scenario(PROJECT / "scenarios" / "kdc-3107.json")
    said = [(kdc.persona(line.speaker).name, line.text) for line in kdc.script]
    chris = kdc.lines_for("driver")
    async with RealtimeStandIn(kdc) as stand_in:
        session = model(stand_in).session()
        try:
            await session.update_instructions("You are Chris, the driver, on a call.")
            await hear(session, [f"{who}: {text}" for who, text in (said[0], said[2])])
            assert (await reply(session))[0] == chris[0]
            await hear(session, [f"{who}: {text}" for who, text in said[4:5]])
            assert (await reply(session))[0] == chris[1]
        finally:
            await session.aclose()

        replayed = model(stand_in).session()  # what a reconnected session is sent
        try:
            await replayed.update_instructions("You are Chris, the driver, on a call.")
            context = llm.ChatContext.empty()
            for who, text in said[:6]:  # Chris's two lines among four he heard
                if who == "Chris":
                    context.add_message(role="assistant", content=text)
                else:
                    context.add_message(role="user", content=f"{who}: {text}")
            await replayed.update_chat_ctx(context)
            assert (await reply(replayed))[0] == chris[2]
        finally:
            await replayed.aclose()


async def hear(session: Any, lines: list[str]) -> None:
    """Add ``lines`` to the session's conversation as user messages (what the relay does)."""
    context = session.chat_ctx.copy()
    for line in lines:
        context.add_message(role="user", content=line)
    await session.update_chat_ctx(context)


async def test_a_rejected_key_ends_the_session_as_openai_does(model: Any) -> None:
    async with RealtimeStandIn(faults=[Fault("key_rejected", voice="alloy")]) as stand_in:
        session = model(stand_in).session()
        errors: list[Any] = []
        session.on("error", errors.append)
        try:
            await eventually(lambda: errors, 10, "the key to be rejected")
        finally:
            # plugin 1.8.9's aclose() re-raises the error that ended the session
            with pytest.raises(APIError, match="returned an error"):
                await session.aclose()
    assert not errors[0].recoverable
    assert errors[0].error.body.code == "invalid_api_key"
    assert any(r.get("fault") == "key_rejected" for r in stand_in.client_events)


def test_runs_alone_prints_its_url_and_logs_every_client_event(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    script = PROJECT / "tests" / "realtime_standin.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",  # it finds the project and its helpers from anywhere
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url

        async def one_reply() -> str:
            rt = openai.realtime.RealtimeModel(model=MODEL, voice="echo", api_key="k", base_url=url)
            session = rt.session()
            try:
                await session.update_instructions("You are Chris, a truck driver.")
                return (await reply(session))[0]
            finally:
                await session.aclose()
                await rt.aclose()

        said = asyncio.run(one_reply())
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert said == load_scenario(default_scenario_file()).lines_for("driver")[0]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [r["event"]["type"] for r in records if "event" in r]
    assert kinds[0] == "session.update" and "response.create" in kinds
    assert records[0]["connect"] == {"path": "/v1/realtime", "model": MODEL, "key": True}


def test_a_bad_fault_on_the_command_line_is_one_line() -> None:
    script = PROJECT / "tests" / "realtime_standin.py"
    result = subprocess.run(
        [sys.executable, str(script), "--fault", "explode"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown fault 'explode'" in result.stderr.strip().splitlines()[-1]
