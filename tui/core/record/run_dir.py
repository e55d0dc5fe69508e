"""Reading a finished run directory back: ``report.json`` and the WAVs it names, checked.

Every problem is a :class:`RunDirError` whose message is one line naming the problem and the
fix; nothing is changed on disk.
"""

from __future__ import annotations

import json
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tui.core.record.store import REPORT_FILE

REQUIRED: Final[dict[str, type | tuple[type, ...]]] = {
    "room": str,
    "started_at": str,
    "agents": dict,
    "turn_taking": dict,
    "transcript": list,
    "findings": list,
    "timeline": dict,
    "recording": dict,
}
_RECORD_AGAIN: Final = "record the call again (a run is complete once its recorder closed)"


class RunDirError(ValueError):
    """A run directory that cannot be reported on (one line: the problem and the fix)."""


@dataclass(frozen=True, slots=True)
class Run:
    """A checked run directory: its report and each agent's WAV bytes."""

    path: Path
    report: dict[str, Any]
    audio: dict[str, bytes]
    """identity -> the WAV file's bytes, for agents whose audio was recorded."""


def load_run(path: Path) -> Run:
    """Read and check ``path`` (see the module docstring)."""
    if not path.is_dir():
        raise RunDirError(
            f"{path}: not a directory; pass a run directory "
            "(~/.local/state/dispatch-tui/runs/<room>)"
        )
    report_path = path / REPORT_FILE
    if not report_path.is_file():
        raise RunDirError(
            f"{path}: no {REPORT_FILE}, so the recording never finished; {_RECORD_AGAIN}"
        )
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(
            f"{report_path}: not valid JSON ({exc}): truncated? {_RECORD_AGAIN}"
        ) from None
    if not isinstance(report, dict):
        raise RunDirError(f"{report_path}: not a JSON object; {_RECORD_AGAIN}")
    for key, kind in REQUIRED.items():
        if not isinstance(report.get(key), kind):
            raise RunDirError(
                f"{report_path}: {key!r} is missing or not a {_kind(kind)}; {_RECORD_AGAIN}"
            )
    audio: dict[str, bytes] = {}
    files = report["recording"].get("audio", {})
    if not isinstance(files, dict):
        raise RunDirError(f"{report_path}: recording.audio is not an object; {_RECORD_AGAIN}")
    for identity, info in files.items():
        name = info.get("file") if isinstance(info, dict) else None
        if not isinstance(name, str) or Path(name).name != name:
            raise RunDirError(
                f"{report_path}: bad audio file entry for {identity!r}; {_RECORD_AGAIN}"
            )
        audio[identity] = _wav_bytes(path / name)
    return Run(path, report, audio)


def _kind(kind: type | tuple[type, ...]) -> str:
    names: dict[Any, str] = {str: "string", dict: "object", list: "list"}
    return names.get(kind, "value")


def _wav_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise RunDirError(f"{path}: missing; the run directory is incomplete, {_RECORD_AGAIN}")
    data = path.read_bytes()
    try:
        with wave.open(str(path), "rb") as wav:
            expected = wav.getnframes() * wav.getsampwidth() * wav.getnchannels()
    except (wave.Error, EOFError, struct.error) as exc:
        raise RunDirError(f"{path}: not a readable WAV ({exc}); {_RECORD_AGAIN}") from None
    if len(data) < 44 + expected:
        raise RunDirError(
            f"{path}: truncated ({len(data)} bytes, its header promises {44 + expected}); "
            f"{_RECORD_AGAIN}"
        )
    return data
