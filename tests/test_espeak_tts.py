"""EspeakTTS: offline speech from libespeak-ng, non-silent, plausible length, distinct voices."""

from __future__ import annotations

import asyncio

import numpy as np

from agents.espeak_tts import ESPEAK_SAMPLE_RATE, EspeakTTS, EspeakVoice, synthesize_pcm
from agents.scenario_agents import MAX_AGENTS
from agents.voices import OFFLINE_VOICES

SENTENCE = "Hi Chris, this is Tim from dispatch, calling about load HDX-2478."


def median_pitch_hz(pcm: bytes, rate: int = ESPEAK_SAMPLE_RATE) -> float:
    """Median fundamental frequency of the voiced 46 ms windows, by autocorrelation."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    pitches = []
    for start in range(0, len(samples) - 1024, 512):
        window = samples[start : start + 1024]
        if np.sqrt(np.mean(window**2)) < 1000:
            continue  # silence or a consonant: no pitch to read
        corr = np.correlate(window, window, "full")[1023:]
        low, high = rate // 400, rate // 60
        pitches.append(rate / (low + int(np.argmax(corr[low:high]))))
    return float(np.median(pitches))


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


async def test_synthesize_gives_non_silent_pcm_of_plausible_duration() -> None:
    tts = EspeakTTS(OFFLINE_VOICES[0])
    async with tts.synthesize(SENTENCE) as stream:
        frame = await stream.collect()
    assert frame.sample_rate == ESPEAK_SAMPLE_RATE
    assert frame.num_channels == 1
    duration = frame.samples_per_channel / frame.sample_rate
    # eleven words at 150-200 words per minute, plus pauses: a few seconds, not 0 or 30
    assert 2.0 < duration < 10.0
    assert rms(bytes(frame.data)) > 500


def test_the_two_agents_sound_different() -> None:
    tim, rate_tim = synthesize_pcm(SENTENCE, OFFLINE_VOICES[0])
    chris, rate_chris = synthesize_pcm(SENTENCE, OFFLINE_VOICES[1])
    assert rate_tim == rate_chris == ESPEAK_SAMPLE_RATE
    assert OFFLINE_VOICES[0] != OFFLINE_VOICES[1]
    # Tim speaks audibly higher than Chris (about 128 Hz against 97 Hz)
    assert median_pitch_hz(tim) > median_pitch_hz(chris) * 1.15


def test_every_agent_of_a_full_call_has_a_voice_of_its_own() -> None:
    # six agents at most: six variants, each speaking, at pitches set apart
    assert len(OFFLINE_VOICES) == MAX_AGENTS
    assert len({voice.name for voice in OFFLINE_VOICES}) == MAX_AGENTS
    pitches = []
    for voice in OFFLINE_VOICES:
        pcm, _ = synthesize_pcm(SENTENCE, voice)
        assert rms(pcm) > 500, voice
        pitches.append(median_pitch_hz(pcm))
    # the same accent and nearly the same pitch would be hard to tell apart
    for i, (a, pitch_a) in enumerate(zip(OFFLINE_VOICES, pitches, strict=True)):
        for b, pitch_b in zip(OFFLINE_VOICES[i + 1 :], pitches[i + 1 :], strict=True):
            same_accent = a.name.split("+")[0] == b.name.split("+")[0]
            assert not same_accent or abs(pitch_a - pitch_b) > 0.1 * min(pitch_a, pitch_b), (a, b)


async def test_concurrent_synthesis_is_serialised_and_correct() -> None:
    # libespeak-ng has one global buffer and voice: unguarded threads would mix their samples
    voices = [OFFLINE_VOICES[0], OFFLINE_VOICES[1]] * 4
    alone = [len(synthesize_pcm(SENTENCE, voice)[0]) for voice in voices]
    results = await asyncio.gather(
        *(asyncio.to_thread(synthesize_pcm, SENTENCE, voice) for voice in voices)
    )
    for (pcm, _), expected_len in zip(results, alone, strict=True):
        # espeak adds a little random jitter, so lengths match closely but not exactly
        assert abs(len(pcm) - expected_len) < 0.02 * expected_len
        assert rms(pcm) > 500


def test_unknown_voice_is_a_clear_error() -> None:
    try:
        synthesize_pcm("hello", EspeakVoice(name="no-such-voice"))
    except RuntimeError as exc:
        assert "no-such-voice" in str(exc)
    else:
        raise AssertionError("an unknown voice must fail")
