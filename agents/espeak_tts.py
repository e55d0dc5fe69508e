"""An offline ``tts.TTS`` backed by libespeak-ng, loaded with ctypes from ``espeakng-loader``.

No network and no model download: the PyPI package ships the shared library and its voice
data. Synthesis of a sentence takes milliseconds, so it runs in a worker thread and the
result is pushed to the framework as one block of 16-bit mono PCM at the library's rate
(22050 Hz); the framework resamples for the room.

libespeak-ng keeps global state (one current voice, one callback, one output buffer), so
every call into it is serialised by a module-level lock and the voice parameters are set
again before each synthesis.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from livekit.agents import APIConnectOptions, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

ESPEAK_SAMPLE_RATE = 22050
"""What libespeak-ng produces; checked against ``espeak_Initialize``'s answer."""

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # synthesis runs inside espeak_Synth and calls our callback
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(RuntimeError):
    """libespeak-ng could not be loaded, initialised or asked to speak."""


@dataclass(frozen=True)
class EspeakVoice:
    """How one agent sounds: an espeak voice name with a variant, and prosody settings."""

    name: str = "en-us"
    rate_wpm: int = 175
    pitch: int = 50
    pitch_range: int = 50
    volume: int = 100


class _Engine:
    """The process-wide libespeak-ng handle; use only while holding ``_LOCK``."""

    def __init__(self) -> None:
        import espeakng_loader

        try:
            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise EspeakError(f"cannot load libespeak-ng: {exc}") from None
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int

        data_path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (code {rate}) with data at {data_path!r}")
        self.sample_rate = int(rate)
        self._chunks: list[bytes] = []
        # keep a reference: ctypes callbacks are freed with their Python object
        self._callback = _SynthCallback(self._on_samples)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_samples(
        self, wav: ctypes._Pointer[ctypes.c_short], num_samples: int, _events: int | None
    ) -> int:
        if num_samples > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, num_samples * 2))
        return 0  # 0 = continue synthesis

    def synthesize(self, text: str, voice: EspeakVoice) -> bytes:
        """Speak ``text`` with ``voice`` and return int16 little-endian mono PCM."""
        lib = self.lib
        if lib.espeak_SetVoiceByName(voice.name.encode()) != _EE_OK:
            raise EspeakError(f"espeak voice {voice.name!r} not found in the bundled data")
        for param, value in (
            (_PARAM_RATE, voice.rate_wpm),
            (_PARAM_PITCH, voice.pitch),
            (_PARAM_RANGE, voice.pitch_range),
            (_PARAM_VOLUME, voice.volume),
        ):
            lib.espeak_SetParameter(param, value, 0)
        encoded = text.encode("utf-8") + b"\0"
        buffer = ctypes.create_string_buffer(encoded)
        self._chunks = []
        result = lib.espeak_Synth(
            buffer, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if result != _EE_OK:
            raise EspeakError(f"espeak_Synth failed with code {result}")
        lib.espeak_Synchronize()
        pcm, self._chunks = b"".join(self._chunks), []
        return pcm


_LOCK = threading.Lock()
_ENGINE: _Engine | None = None


def synthesize_pcm(text: str, voice: EspeakVoice) -> tuple[bytes, int]:
    """Blocking synthesis: ``(pcm_int16_mono, sample_rate)``. Thread-safe via a global lock."""
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE.synthesize(text, voice), _ENGINE.sample_rate


class EspeakTTS(tts.TTS[Any]):
    """Non-streaming TTS speaking with a local espeak-ng voice."""

    def __init__(self, voice: EspeakVoice | None = None) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=ESPEAK_SAMPLE_RATE,
            num_channels=1,
        )
        self.voice = voice or EspeakVoice()

    @property
    def model(self) -> str:
        return f"espeak-ng:{self.voice.name}"

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._voice = tts.voice

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        # the C call blocks for a few milliseconds; keep it off the session's event loop
        pcm, rate = await asyncio.to_thread(synthesize_pcm, self.input_text, self._voice)
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(pcm)
        output_emitter.flush()
