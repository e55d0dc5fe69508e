"""What every job of a worker needs, from the server that builds it to the job that runs it."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.voices import VoiceMode


@dataclass(frozen=True)
class WorkerConfig:
    """What every job of this worker needs (picklable: process executors send it to jobs)."""

    voice: VoiceMode
    ws_url: str = ""
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
