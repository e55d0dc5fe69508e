"""Per-turn latency of the in-process sessions: last value and median, per room and role."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

HISTORY: Final = 100
METRICS: Final[tuple[tuple[str, str], ...]] = (
    ("llm_node_ttft", "LLM ttft"),
    ("tts_node_ttfb", "TTS ttfb"),
    ("e2e_latency", "reply"),
)


@dataclass(slots=True)
class LatencySeries:
    """Recent values of one timing, in seconds."""

    values: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def p50(self) -> float | None:
        return statistics.median(self.values) if self.values else None


class LatencyBook:
    """Collects ``turn`` session events; one book per dashboard, keyed by (room, role)."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], LatencySeries] = {}

    def record_turn(self, room: str, role: str, payload: Mapping[str, Any]) -> bool:
        """Add the timings a turn carries; False when it carried none."""
        added = False
        for key, _ in METRICS:
            value = payload.get(key)
            if isinstance(value, int | float) and value >= 0:
                self._series.setdefault((room, role, key), LatencySeries()).values.append(
                    float(value)
                )
                added = True
        return added

    def series(self, room: str, role: str, key: str) -> LatencySeries | None:
        return self._series.get((room, role, key))

    def summary(self, room: str, role: str) -> str:
        """``LLM ttft 12 ms (p50 10) · TTS ttfb 31 ms (p50 30) · reply 0.9 s (p50 0.8)``."""
        parts = []
        for key, label in METRICS:
            series = self._series.get((room, role, key))
            if series is None or series.last is None or series.p50 is None:
                continue
            parts.append(f"{label} {_fmt(series.last)} (p50 {_fmt(series.p50)})")
        return " · ".join(parts)

    def forget_room(self, room: str) -> None:
        for key in [key for key in self._series if key[0] == room]:
            del self._series[key]


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
