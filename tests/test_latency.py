from __future__ import annotations

from tui.core.latency import LatencyBook


def test_summary_shows_last_and_median_per_role() -> None:
    book = LatencyBook()
    for ttft in (0.010, 0.030, 0.020):
        assert book.record_turn("r", "dispatcher", {"llm_node_ttft": ttft, "e2e_latency": 1.5})
    summary = book.summary("r", "dispatcher")
    assert "LLM ttft 20 ms (p50 20 ms)" in summary
    assert "reply 1.50 s (p50 1.50 s)" in summary
    assert "TTS" not in summary
    assert book.summary("r", "driver") == ""


def test_turns_without_timings_are_ignored() -> None:
    book = LatencyBook()
    assert not book.record_turn("r", "driver", {"llm_node_ttft": None, "text": "hi"})
    assert not book.record_turn("r", "driver", {"e2e_latency": "fast"})
    assert book.series("r", "driver", "llm_node_ttft") is None


def test_forget_room_drops_only_that_room() -> None:
    book = LatencyBook()
    book.record_turn("a", "driver", {"tts_node_ttfb": 0.2})
    book.record_turn("b", "driver", {"tts_node_ttfb": 0.3})
    book.forget_room("a")
    assert book.summary("a", "driver") == ""
    assert "TTS ttfb 300 ms" in book.summary("b", "driver")
