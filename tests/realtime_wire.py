"""What the realtime stand-in sends: ids, speech at the protocol's rate, and payloads."""

from __future__ import annotations

import functools
import uuid
from typing import Any, Final

import numpy as np

from agents.espeak_tts import EspeakVoice, synthesize_pcm

SAMPLE_RATE: Final = 24_000
"""The protocol's PCM16 rate (``audio/pcm``, mono)."""
CHUNK_S: Final = 0.1
LEAD_S: Final = 0.5
"""Audio sent ahead of real time, as the service does; then one chunk per chunk duration."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@functools.lru_cache(maxsize=64)
def speech(text: str, voice: EspeakVoice) -> bytes:
    """``text`` spoken by ``voice`` as PCM16 mono at 24 kHz (espeak-ng speaks at 22.05 kHz)."""
    pcm, rate = synthesize_pcm(text, voice)
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    count = round(len(samples) * SAMPLE_RATE / rate)
    resampled = np.interp(np.arange(count) * rate / SAMPLE_RATE, np.arange(len(samples)), samples)
    return np.clip(resampled, -32768, 32767).astype(np.int16).tobytes()


def merge(target: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into ``target`` (a session.update changes only what it names)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


def rate_limit_details() -> dict[str, Any]:
    return {
        "type": "failed",
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit_exceeded",
            "message": (
                "Rate limit reached for gpt-4o-realtime-preview on tokens per min (TPM): "
                "Limit 40000, Used 40000, Requested 1200. Please try again in 1.8s."
            ),
        },
    }


def usage(words: int, seconds: float) -> dict[str, Any]:
    audio_tokens = round(seconds * 10)
    return {
        "total_tokens": 120 + words + audio_tokens,
        "input_tokens": 120,
        "output_tokens": words + audio_tokens,
        "input_token_details": {"text_tokens": 120, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": words, "audio_tokens": audio_tokens},
    }
