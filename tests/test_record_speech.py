"""Speaking intervals from received levels: hysteresis, hangover, clicks, stalls."""

from __future__ import annotations

import pytest

from tui.core.record.speech import SpeechDetector, SpeechThresholds, detect

LOUD, QUIET, SILENT = -20.0, -50.0, -100.0


def levels(pattern: str, start: float = 0.0, step: float = 0.1) -> list[tuple[float, float]]:
    """``L`` loud, ``q`` between the thresholds, ``.`` silence; one level per 0.1 s."""
    value = {"L": LOUD, "q": QUIET, ".": SILENT}
    return [(round(start + (i + 1) * step, 6), value[c]) for i, c in enumerate(pattern)]


def test_a_word_gap_shorter_than_the_hangover_does_not_split_a_turn() -> None:
    # 1 s of speech, 0.4 s pause, 1 s of speech: one interval
    spans = detect(levels("L" * 10 + "." * 4 + "L" * 10 + "." * 10))
    assert len(spans) == 1
    start, end = spans[0]
    assert start == pytest.approx(0.05)  # middle of the first loud window (0.0-0.1)
    assert end == pytest.approx(2.35)


def test_a_pause_longer_than_the_hangover_splits() -> None:
    spans = detect(levels("L" * 10 + "." * 8 + "L" * 10 + "." * 10))
    assert [round(a, 2) for a, _ in spans] == [0.05, 1.85]


def test_hysteresis_keeps_quiet_tails_but_does_not_start_on_them() -> None:
    assert detect(levels("q" * 20)) == []
    (span,) = detect(levels("LLLL" + "q" * 10 + "." * 10))
    assert span[1] == pytest.approx(1.35)  # the quiet tail is still speech


def test_a_click_is_dropped_and_flush_closes_the_open_interval() -> None:
    assert detect(levels("..L.........")) == []
    detector = SpeechDetector()
    for at, level in levels("...LLLLL"):
        assert detector.add(level, at) is None
    assert detector.speaking_since == pytest.approx(0.35)
    assert detector.flush() == (pytest.approx(0.35), pytest.approx(0.75))
    assert detector.flush() is None


def test_a_stall_in_the_levels_ends_the_interval() -> None:
    before = levels("LLLLL")
    after = levels("LLLLL", start=5.0)
    spans = detect(before + after)
    assert len(spans) == 2
    assert spans[1][0] == pytest.approx(5.05)  # the gap is not counted as speech


def test_thresholds_are_configurable() -> None:
    loose = SpeechThresholds(on_dbfs=-60.0, off_dbfs=-70.0)
    assert len(detect(levels("q" * 20), loose)) == 1
