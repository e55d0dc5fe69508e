"""Voice back-ends for the agents: OpenAI realtime, or offline (scripted lines + espeak-ng).

``resolve_voice_mode`` picks one (explicit choice, then ``DISPATCH_VOICE``, then realtime when
``OPENAI_API_KEY`` is set, offline otherwise); ``build_session`` turns a persona into a ready
``AgentSession``. Either way the session needs no STT and no VAD: audio input is off and the
turn relay in the worker decides who speaks, so turn detection is ``manual``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents import AgentSession, llm

from agents.espeak_tts import EspeakTTS, EspeakVoice
from agents.scenario import Persona, Role, Scenario
from agents.scripted_llm import ScriptedLLM

VoiceMode = Literal["realtime", "offline"]
VOICE_MODES: tuple[VoiceMode, VoiceMode] = ("realtime", "offline")
VOICE_ENV = "DISPATCH_VOICE"

OFFLINE_VOICES: tuple[EspeakVoice, ...] = (
    # a different variant and pitch per agent, so they are told apart by ear (median pitch of
    # one test sentence: 129, 97, 235, 144, 170 and 92 Hz, the last one with a British accent)
    EspeakVoice(name="en-us+m3", rate_wpm=175, pitch=65),
    EspeakVoice(name="en-us+m7", rate_wpm=165, pitch=25),
    EspeakVoice(name="en-us+f3", rate_wpm=170, pitch=55),
    EspeakVoice(name="en-029+m2", rate_wpm=170, pitch=80),
    EspeakVoice(name="en-us+f4", rate_wpm=175, pitch=40),
    EspeakVoice(name="en-gb-x-rp+m4", rate_wpm=160, pitch=40),
)
"""The offline voice of each agent by its place in the scenario's list (the dispatcher of a
pair-form scenario is first, the driver second)."""


class VoiceConfigError(ValueError):
    """The voice cannot be set up; the message is one line naming the cause and the fix."""


def resolve_voice_mode(
    explicit: str | None = None, env: Mapping[str, str] | None = None
) -> VoiceMode:
    """Choose the voice: ``explicit``, else ``$DISPATCH_VOICE``, else by ``OPENAI_API_KEY``."""
    environ = os.environ if env is None else env
    choice, source = explicit, "voice"
    if not choice:
        choice, source = environ.get(VOICE_ENV, "").strip(), VOICE_ENV
    if choice:
        normalised = choice.strip().lower()
        if normalised not in VOICE_MODES:
            raise VoiceConfigError(
                f"{source}={choice!r} is not a voice: use 'realtime' or 'offline'"
            )
        return "realtime" if normalised == "realtime" else "offline"
    return "realtime" if environ.get("OPENAI_API_KEY") else "offline"


@dataclass(frozen=True)
class VoiceDescription:
    """What a session was built with, for logs and the dashboard."""

    mode: VoiceMode
    model: str
    voice: str
    temperature: float
    temperature_applied: bool
    """False for realtime: plugin 1.8.x accepts ``temperature`` but never sends it."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "model": self.model,
            "voice": self.voice,
            "temperature": self.temperature,
            "temperature_applied": self.temperature_applied,
        }


def build_realtime_model(
    persona: Persona, env: Mapping[str, str] | None = None
) -> llm.RealtimeModel:
    """An OpenAI realtime model for one persona, or VoiceConfigError when no key is set.

    ``temperature`` is passed for the record, but livekit-plugins-openai 1.8.9 marks it
    "deprecated, unused in v1" and drops it: the Realtime GA API has no temperature.
    """
    environ = os.environ if env is None else env
    api_key = environ.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        raise VoiceConfigError(
            "OPENAI_API_KEY is not set: export it for the realtime voice, "
            "or use DISPATCH_VOICE=offline"
        )
    from livekit.plugins import openai

    return openai.realtime.RealtimeModel(
        model=persona.model,
        voice=persona.voice,
        temperature=persona.temperature,
        api_key=api_key,
    )


def offline_voice(scenario: Scenario, role: Role) -> EspeakVoice:
    """The espeak voice of the agent playing ``role``: one of its own per agent of the call."""
    return OFFLINE_VOICES[scenario.roles.index(role) % len(OFFLINE_VOICES)]


def build_offline_models(scenario: Scenario, role: Role) -> tuple[ScriptedLLM, EspeakTTS]:
    """The scripted LLM and espeak TTS for one role."""
    return (
        ScriptedLLM(scenario.lines_for(role), label=role),
        EspeakTTS(offline_voice(scenario, role)),
    )


def describe_voice(mode: VoiceMode, scenario: Scenario, role: Role) -> VoiceDescription:
    persona = scenario.persona(role)
    if mode == "realtime":
        return VoiceDescription(mode, persona.model, persona.voice, persona.temperature, False)
    voice = offline_voice(scenario, role).name
    return VoiceDescription(mode, "scripted", voice, persona.temperature, False)


def build_session(
    mode: VoiceMode, scenario: Scenario, role: Role, env: Mapping[str, str] | None = None
) -> AgentSession[None]:
    """An ``AgentSession`` for one agent with the relay's settings (no STT, VAD or barge-in)."""
    persona = scenario.persona(role)
    models: dict[str, Any]
    if mode == "realtime":
        models = {"llm": build_realtime_model(persona, env)}
    else:
        scripted, speech = build_offline_models(scenario, role)
        models = {"llm": scripted, "tts": speech}
    return AgentSession[None](
        **models,
        # an explicit None: the default would load the bundled silero VAD for nothing
        vad=None,
        turn_handling={
            "turn_detection": "manual",
            "interruption": {"enabled": False},
            "preemptive_generation": {"enabled": False},
        },
        user_away_timeout=None,
        aec_warmup_duration=None,
    )
