"""The run's progress on stderr: a line per state change in a log, one line redrawn in place on
a terminal, a line that stays for each finished call, and nothing that can drive a terminal."""

from __future__ import annotations

import io

from tui.core.run_progress import RunProgress, bar


def test_a_log_gets_one_line_per_phase_change_and_one_per_finished_call() -> None:
    stream = io.StringIO()
    progress = RunProgress(stream, 2, live=False)
    progress.note("2 calls, 2 at a time; records in /runs")
    progress.state("HDX-2478 #1", "waiting for agents")
    progress.state("HDX-2478 #1", "talking", "turn 1")
    progress.state("HDX-2478 #1", "talking", "turn 2")  # same phase: no new line
    progress.state("HDX-2478 #2", "waiting for agents")
    progress.finished("HDX-2478 #1", "passed: ended (goodbye, 8 turns) in 34.0 s")
    progress.finished("HDX-2478 #2", "error: no worker took the job\x1b[2J")
    progress.close()
    assert stream.getvalue().splitlines() == [
        "run: 2 calls, 2 at a time; records in /runs",
        "run: HDX-2478 #1: waiting for agents",
        "run: HDX-2478 #1: talking",
        "run: HDX-2478 #2: waiting for agents",
        "run: [1/2] HDX-2478 #1 passed: ended (goodbye, 8 turns) in 34.0 s",
        "run: [2/2] HDX-2478 #2 error: no worker took the job?[2J",
    ]
    assert progress.done == 2


def test_a_terminal_gets_a_status_line_redrawn_and_finished_lines_that_stay() -> None:
    stream = io.StringIO()
    progress = RunProgress(stream, 4, live=True)
    progress.state("A-1 #1", "talking", "turn 3")
    progress.state("B-2 #1", "waiting for agents")
    drawn = stream.getvalue()
    progress.state("B-2 #1", "waiting for agents")  # unchanged: not drawn again
    assert stream.getvalue() == drawn
    assert progress.status_line() == (
        "run [--------------------] 0/4 | A-1 #1 talking (turn 3) | B-2 #1 waiting for agents"
    )
    progress.finished("A-1 #1", "passed")
    assert progress.status_line() == "run [#####---------------] 1/4 | B-2 #1 waiting for agents"
    progress.close()
    text = stream.getvalue()
    # every redraw starts by clearing the line; the finished line stays on its own line
    assert "\r\x1b[K" + "run: [1/4] A-1 #1 passed\n" in text
    assert text.endswith("\r\x1b[K")
    assert "\n" not in text.replace("run: [1/4] A-1 #1 passed\n", "")


def test_the_bar_fills_with_the_calls_done() -> None:
    assert bar(0, 3, 6) == "[------]"
    assert bar(1, 3, 6) == "[##----]"
    assert bar(3, 3, 6) == "[######]"
    assert bar(0, 0, 4) == "[####]"
