"""Domain events about everything around the room: the server, the control plane's answers,
the agent worker, the voice setting, the room list, the observed room's dispatches and the
worker log's errors.

They travel the same way as the room's own events (:mod:`tui.core.events`): a source (the
backend, :class:`tui.core.room_watch.RoomWatch`) hands them to one sink, and one reducer
(:class:`tui.core.room_model.RoomModel`) applies them, so the room state and the diagnostics
read the same facts whichever process or command produced them. Plain values only: nothing here
imports livekit or Textual.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, TypeAlias

WorkerState: TypeAlias = Literal[
    "off", "starting", "registered", "reconnecting", "failed", "stopped"
]
ServerState: TypeAlias = Literal["starting", "ready", "failed"]
ControlPlaneErrorKind: TypeAlias = Literal["unreachable", "credentials", "not_found", "server"]


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """What the in-process worker is doing, for the header and diagnostics.

    ``reconnecting``: the worker lost the server it had registered with and is retrying;
    ``worker_id`` is the lost registration's, ``detail`` says since when and for how long.
    """

    state: WorkerState
    worker_id: str = ""
    detail: str = ""
    agent_name: str = ""


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """The LiveKit server the dashboard talks to."""

    state: ServerState
    url: str = ""
    local: bool = False
    detail: str = ""


@dataclass(frozen=True)
class RoomSummary:
    """One row of the room list."""

    name: str
    sid: str
    num_participants: int
    created_at: datetime | None
    load_id: str | None
    """The scenario's load id when the room was created by dispatch-tui, else None."""


class ListedDispatch(NamedTuple):
    """One agent dispatch of the observed room, as the server lists it."""

    dispatch_id: str
    agent_name: str
    num_jobs: int


@dataclass(frozen=True, slots=True)
class WorkerStatusChanged:
    """The in-process agent worker changed state."""

    status: WorkerStatus
    room: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ServerStatusChanged:
    """The LiveKit server (local child or remote) changed state."""

    status: ServerStatus
    room: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ControlPlaneAnswered:
    """A control-plane call succeeded (``ok``) or failed with ``kind`` and ``detail``."""

    ok: bool
    kind: ControlPlaneErrorKind | Literal[""] = ""
    detail: str = ""
    room: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class VoiceConfigured:
    """The voice the worker uses (``realtime``/``offline``) and whether an OpenAI key is set."""

    mode: str
    key_present: bool | None = None
    room: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RoomsListed:
    """The server's rooms, as just listed (the watch polls for them)."""

    rooms: tuple[RoomSummary, ...]
    room: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RoomCreated:
    """When the observed ``room`` was created by the server's wall clock, listed at ``wall_at``.

    The diagnostics map it onto the monotonic clock: ``at - (wall_at - created_at)``.
    """

    room: str
    created_at: datetime | None
    wall_at: datetime
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class DispatchesListed:
    """The observed room's agent dispatches, as just listed."""

    room: str
    dispatches: tuple[ListedDispatch, ...]
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class WorkerLogErrors:
    """The worker log's ERROR records so far: their count and the last one, redacted."""

    count: int
    last: str
    last_at: float
    room: str = ""
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """The watched ``room`` is being recorded into ``run_dir`` (see :mod:`tui.core.record`)."""

    room: str
    run_dir: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RecordingFinished:
    """The record of ``room`` is complete: ``run_dir`` holds its ``report.json`` (or, when
    ``error`` is set, the reason it has none)."""

    room: str
    run_dir: str
    error: str = ""
    at: float = field(default_factory=_now)


InfraEvent: TypeAlias = (
    WorkerStatusChanged
    | ServerStatusChanged
    | ControlPlaneAnswered
    | VoiceConfigured
    | RoomsListed
    | RoomCreated
    | DispatchesListed
    | WorkerLogErrors
    | RecordingStarted
    | RecordingFinished
)

INFRA_EVENT_TYPES: tuple[type, ...] = (
    WorkerStatusChanged,
    ServerStatusChanged,
    ControlPlaneAnswered,
    VoiceConfigured,
    RoomsListed,
    RoomCreated,
    DispatchesListed,
    WorkerLogErrors,
    RecordingStarted,
    RecordingFinished,
)
