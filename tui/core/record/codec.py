"""One JSON line per event, and back: the format of ``events.jsonl``.

Generic over dataclasses: a line is ``{"type": <class name>, <field>: <value>, ...}``, tuples
become lists, named tuples objects, non-finite floats ``null``. Every clock field (``at`` and
fields marked ``metadata={"clock": True}``) is stored as seconds since the recording started, so
the reader returns events on the record's own clock (0 = recording start), which is what a
replay needs. Types are rebuilt from the dataclasses' annotations.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final, Union

from tui.core.events import DOMAIN_EVENT_TYPES
from tui.core.infra_events import DispatchesListed, WorkerLogErrors
from tui.core.record.notes import RECORD_NOTE_TYPES

RECORDED_INFRA_TYPES: Final[tuple[type, ...]] = (DispatchesListed, WorkerLogErrors)
"""What a record keeps of the events around the room: its dispatches and the worker log's
errors (the server's room list, status and the like say nothing about one call)."""

EVENT_TYPES: Final[dict[str, type]] = {
    cls.__name__: cls for cls in (*DOMAIN_EVENT_TYPES, *RECORDED_INFRA_TYPES, *RECORD_NOTE_TYPES)
}
"""Every type a record may hold, by the name its lines carry."""
DECIMALS: Final = 4
"""Floats are rounded to 0.1 ms / 0.0001 dB: enough for any figure, half the bytes."""


class RecordError(ValueError):
    """A line of a record that cannot be read (one line naming the file, line and problem)."""


def encode(event: Any, t0: float) -> str:
    """The JSON line (without newline) for ``event``; clock fields relative to ``t0``."""
    cls = type(event)
    if cls.__name__ not in EVENT_TYPES:
        raise TypeError(f"{cls.__name__} is not a recordable event")
    body: dict[str, Any] = {"type": cls.__name__}
    clocks = clock_fields(cls)  # type: ignore[arg-type]  # classes are hashable
    for item in dataclasses.fields(event):
        value = getattr(event, item.name)
        if item.name in clocks and isinstance(value, int | float):
            value = value - t0
        body[item.name] = _plain(value)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode(line: str) -> Any:
    """The event of one line; raises :class:`RecordError` for anything else."""
    try:
        body = json.loads(line)
    except ValueError as exc:
        raise RecordError(f"not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise RecordError("not a JSON object")
    name = body.pop("type", None)
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise RecordError(f"unknown event type {name!r}")
    hints = _hints(cls)
    unknown = set(body) - set(hints)
    if unknown:
        raise RecordError(f"{name} has unknown fields {sorted(unknown)}")
    try:
        return cls(**{key: _typed(value, hints[key]) for key, value in body.items()})
    except (TypeError, ValueError, KeyError) as exc:
        raise RecordError(f"{name}: {exc}") from None


def read_events(path: Path) -> Iterator[Any]:
    """Every event of an ``events.jsonl`` file in order; :class:`RecordError` names the line."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if not line.endswith("\n"):
                raise RecordError(f"{path}: line {number} is cut short (truncated record)")
            try:
                yield decode(line)
            except RecordError as exc:
                raise RecordError(f"{path}: line {number}: {exc}") from None


@cache
def clock_fields(cls: type) -> frozenset[str]:
    """The clock fields of an event class (``at`` and those marked ``{"clock": True}``)."""
    return frozenset(
        item.name
        for item in dataclasses.fields(cls)
        if item.name == "at" or item.metadata.get("clock")
    )


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS) if math.isfinite(value) else None
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: _plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _typed(value: Any, hint: Any) -> Any:
    """``value`` from JSON turned into what the annotation ``hint`` says (tuples, named tuples)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _typed(value, options[0]) if len(options) == 1 else value
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(item, args[0]) for item in value)
        return tuple(_typed(item, arg) for item, arg in zip(value, args, strict=True))
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {hint.__name__}")
        fields = _hints(hint)
        return hint(**{key: _typed(value[key], fields[key]) for key in hint._fields})
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
