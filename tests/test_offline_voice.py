"""The offline voice: scripted lines in order, and sessions that need no STT, VAD or network."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from agents.espeak_tts import EspeakTTS
from agents.multi_agent_worker import scenario_for_job
from agents.scenario import parse_scenario
from agents.scripted_llm import ScriptedLLM
from agents.voices import (
    VoiceConfigError,
    build_session,
    describe_voice,
    offline_voice,
    resolve_voice_mode,
)

SCENARIO = parse_scenario(
    {
        "load_id": "HDX-2478",
        "pickup": {"location": "Fresno", "time": "06:00"},
        "delivery": {"location": "Salt Lake City", "time": "14:00"},
        "situation": "The window moved.",
        "script": [
            {"speaker": "dispatcher", "text": "One."},
            {"speaker": "driver", "text": "Two."},
            {"speaker": "dispatcher", "text": "Three, with several words."},
        ],
    }
)


async def reply(model: ScriptedLLM, chat_ctx: llm.ChatContext) -> str:
    async with model.chat(chat_ctx=chat_ctx) as stream:
        return "".join([chunk.delta.content or "" async for chunk in stream if chunk.delta])


async def test_scripted_llm_says_its_lines_in_order_then_nothing() -> None:
    model = ScriptedLLM(SCENARIO.lines_for("dispatcher"))
    chat_ctx = llm.ChatContext.empty()
    said = []
    for _ in range(3):
        chat_ctx.add_message(role="user", content="whatever the other agent said")
        text = await reply(model, chat_ctx)
        said.append(text)
        if text:
            chat_ctx.add_message(role="assistant", content=text)
    assert said == ["One.", "Three, with several words.", ""]


async def test_scripted_llm_ignores_the_input_and_streams_words() -> None:
    model = ScriptedLLM(["Three, with several words."])
    chat_ctx = llm.ChatContext.empty()
    chat_ctx.add_message(role="user", content="Say something else entirely.")
    async with model.chat(chat_ctx=chat_ctx) as stream:
        pieces = [chunk.delta.content async for chunk in stream if chunk.delta]
    assert len(pieces) == 4
    assert "".join(p or "" for p in pieces) == "Three, with several words."


async def test_offline_session_needs_no_stt_or_vad() -> None:
    session = build_session("offline", SCENARIO, "driver")
    assert isinstance(session.llm, ScriptedLLM)
    assert isinstance(session.tts, EspeakTTS)
    assert session.stt is None
    assert session.vad is None
    assert session.turn_detection == "manual"
    assert session.llm.lines == ("Two.",)


def test_each_agent_of_a_six_agent_call_speaks_its_own_lines_in_its_own_voice() -> None:
    roles = ["dispatcher", "driver", "receiver", "shipper", "broker", "lumper"]
    data = {key: value for key, value in SCENARIO.to_dict().items() if key not in roles}
    data["agents"] = [{"role": role, "name": role.title(), "identity": role} for role in roles]
    data["script"] = [{"speaker": role, "text": f"{role} speaking."} for role in roles]
    scenario = parse_scenario(data)
    assert scenario.roles == tuple(roles)
    voices = {offline_voice(scenario, role) for role in roles}
    assert len(voices) == len(roles)
    for role in roles:
        session = build_session("offline", scenario, role)
        assert isinstance(session.llm, ScriptedLLM) and isinstance(session.tts, EspeakTTS)
        assert session.llm.lines == (f"{role} speaking.",)
        assert session.tts.voice == offline_voice(scenario, role)
        assert describe_voice("offline", scenario, role).voice == offline_voice(scenario, role).name


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        (None, {}, "offline"),
        (None, {"OPENAI_API_KEY": "sk-x"}, "realtime"),
        (None, {"OPENAI_API_KEY": "sk-x", "DISPATCH_VOICE": "offline"}, "offline"),
        (None, {"DISPATCH_VOICE": " Realtime "}, "realtime"),
        ("offline", {"DISPATCH_VOICE": "realtime", "OPENAI_API_KEY": "sk-x"}, "offline"),
    ],
)
def test_voice_mode_resolution(explicit: str | None, env: dict[str, str], expected: str) -> None:
    assert resolve_voice_mode(explicit, env) == expected


def test_invalid_voice_is_one_clear_line() -> None:
    with pytest.raises(VoiceConfigError) as info:
        resolve_voice_mode(None, {"DISPATCH_VOICE": "robot"})
    message = str(info.value)
    assert "\n" not in message
    assert "DISPATCH_VOICE='robot'" in message and "'offline'" in message


def test_job_scenario_prefers_dispatch_then_room_metadata_then_default() -> None:
    other = parse_scenario({**SCENARIO.to_dict(), "load_id": "ABC-1"})
    assert scenario_for_job(SCENARIO.to_json(), other.to_json()).load_id == "HDX-2478"
    assert scenario_for_job("", other.to_json()).load_id == "ABC-1"
    assert scenario_for_job("not json", "").load_id == "HDX-2478"  # the default scenario
    assert scenario_for_job("", "").dispatcher.identity == "dispatcher-tim"
