from __future__ import annotations

import logging
import threading
from pathlib import Path

from tui.core.log_bridge import LogBuffer, LogCapture, RedactingFormatter


def _record(
    message: str, level: int = logging.INFO, name: str = "agents.test"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_buffer_keeps_newest_lines_and_counts_drops() -> None:
    buffer = LogBuffer(capacity=3)
    for index in range(5):
        buffer.emit(_record(f"line {index}"))
    lines, dropped = buffer.drain()
    assert [line.text.rsplit(": ", 1)[1] for line in lines] == ["line 2", "line 3", "line 4"]
    assert dropped == 2
    assert buffer.drain() == ([], 0)


def test_drain_limit_leaves_the_rest_in_order() -> None:
    buffer = LogBuffer(capacity=10)
    for index in range(4):
        buffer.emit(_record(f"m{index}"))
    first, _ = buffer.drain(limit=3)
    rest, _ = buffer.drain()
    assert [line.text[-2:] for line in first] == ["m0", "m1", "m2"]
    assert [line.text[-2:] for line in rest] == ["m3"]


def test_records_from_many_threads_are_all_accounted_for() -> None:
    buffer = LogBuffer(capacity=1000)
    per_thread, threads = 2000, 4

    def produce(tag: int) -> None:
        for index in range(per_thread):
            buffer.emit(_record(f"t{tag} {index}"))

    workers = [threading.Thread(target=produce, args=(tag,)) for tag in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines, dropped = buffer.drain()
    assert len(lines) == 1000
    assert len(lines) + dropped == per_thread * threads
    assert buffer.received == per_thread * threads


def test_levels_are_kept_for_filtering() -> None:
    buffer = LogBuffer()
    buffer.emit(_record("careful", logging.WARNING))
    (line,), _ = buffer.drain()
    assert line.levelno == logging.WARNING
    assert "WARNING" in line.text and "agents.test" in line.text


def test_formatter_redacts_secrets_even_inside_longer_text() -> None:
    secret = "s3cr3t-value-that-is-long-enough"
    formatter = RedactingFormatter([secret, "short"])
    text = formatter.format(_record(f"connecting with {secret}!"))
    assert secret not in text
    assert "connecting with ***!" in text
    # values shorter than 8 characters are not treated as secrets (would mangle normal words)
    assert "short" in formatter.format(_record("short"))


def test_capture_routes_all_loggers_to_file_and_buffer_then_restores(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    log_file = tmp_path / "logs" / "dispatch.log"
    with LogCapture(log_file, secrets=["the-api-secret-123456"]) as capture:
        logging.getLogger("livekit.agents").info("Worker registered")
        logging.getLogger("multi_agent_worker").info("key the-api-secret-123456")
        thread = threading.Thread(target=lambda: logging.getLogger("tui.x").warning("from thread"))
        thread.start()
        thread.join()
        lines, _ = capture.buffer.drain()
    texts = [line.text for line in lines]
    assert any("Worker registered" in t for t in texts)
    assert any("from thread" in t for t in texts)
    assert all("the-api-secret-123456" not in t for t in texts)
    written = log_file.read_text()
    assert "Worker registered" in written and "from thread" in written
    assert "the-api-secret-123456" not in written
    assert root.handlers == before
    assert logging.lastResort is not None


def test_capture_silences_terminal_stream_handlers(tmp_path: Path, capsys: object) -> None:
    root = logging.getLogger()
    stream = logging.StreamHandler()
    root.addHandler(stream)
    try:
        with LogCapture(tmp_path / "x.log") as capture:
            assert stream not in root.handlers
            logging.getLogger("tui.test").warning("quiet please")
            assert capture.buffer.pending() == 1
        assert stream in root.handlers
    finally:
        root.removeHandler(stream)


def test_formatter_redacts_tokens_echoed_by_the_server() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    text = RedactingFormatter().format(_record(f"invalid token: {jwt}, error: go-jose"))
    assert jwt not in text
    assert "invalid token: <token>" in text
