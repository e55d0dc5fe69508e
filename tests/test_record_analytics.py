"""Turn-taking analytics over speaking intervals, for two and more agents, and the checks
built on them."""

from __future__ import annotations

import pytest

from tui.core.diagnostics.turn_taking import deadlock, overlap, turn_checks
from tui.core.record.analytics import (
    TurnThresholds,
    overlaps,
    percentile,
    response_gaps,
    silences,
    turn_taking,
    turns_of,
)

NAMES = {"tim": "Tim", "chris": "Chris", "sam": "Sam"}


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)


def test_a_clean_two_agent_call() -> None:
    speech = {"tim": [(1.0, 4.0), (4.3, 5.0), (7.0, 9.0)], "chris": [(5.4, 6.5), (9.3, 10.0)]}
    tt = turn_taking(speech, window=(0.5, 10.5))
    assert [(t.identity, t.start, t.end) for t in tt.turns] == [
        ("tim", 1.0, 5.0),  # a word gap inside one turn
        ("chris", 5.4, 6.5),
        ("tim", 7.0, 9.0),
        ("chris", 9.3, 10.0),
    ]
    assert [round(g.seconds, 3) for g in tt.gaps] == [0.4, 0.5, 0.3]
    assert tt.gaps_before("chris") == pytest.approx([0.4, 0.3])
    summary = tt.summary()
    assert summary["response_gap_s"] == {"p50": 0.4, "p95": 0.49, "max": 0.5, "count": 3}
    assert summary["overlaps"] == 0 and summary["overlap_s"] == 0
    assert summary["longest_turn_s"] == 4.0 and summary["longest_turn_by"] == "tim"
    assert summary["dead_air_s"] == 0  # every silence is under 2 s
    assert summary["deadlocks"] is None  # no agent states given
    assert tt.speaking_s == {"tim": pytest.approx(5.7), "chris": pytest.approx(1.8)}


def test_overlaps_need_two_speakers_for_long_enough() -> None:
    speech = {"tim": [(0.0, 3.0), (10.0, 11.0)], "chris": [(2.0, 4.0), (10.9, 12.0)]}
    found = overlaps(speech, min_s=0.25)
    assert [(s.start, s.end, s.identities) for s in found] == [(2.0, 3.0, ("chris", "tim"))]
    tt = turn_taking(speech, None)
    # chris answered 1 s before tim finished: a negative floor-transfer offset
    assert tt.gaps[0].seconds == pytest.approx(-1.0)
    assert tt.summary()["overlaps"] == 1 and tt.summary()["overlap_s"] == 1.0
    assert overlaps({"tim": [(0.0, 1.0)], "chris": [(1.0, 2.0)]}, 0.0) == []  # touching


def test_a_backchannel_inside_a_turn_is_an_overlap_not_a_response() -> None:
    turns = turns_of({"tim": [(0.0, 6.0)], "chris": [(2.0, 2.5)]})
    assert response_gaps(turns) == []


def test_three_agents_take_turns() -> None:
    speech = {
        "tim": [(0.0, 2.0)],
        "chris": [(2.5, 4.0), (8.0, 9.0)],
        "sam": [(4.2, 7.0), (7.5, 8.2)],
    }
    tt = turn_taking(speech, (0.0, 9.0))
    assert [t.identity for t in tt.turns] == ["tim", "chris", "sam", "chris"]
    assert [(g.previous, g.responder) for g in tt.gaps] == [
        ("tim", "chris"),
        ("chris", "sam"),
        ("sam", "chris"),
    ]
    assert tt.gaps[2].seconds == pytest.approx(-0.2)
    assert [(s.identities) for s in tt.overlaps] == []  # 0.2 s is under the minimum


def test_dead_air_counts_long_silences_inside_the_call_window_only() -> None:
    speech = {"tim": [(5.0, 6.0), (9.5, 10.0)], "chris": [(6.5, 7.0)]}
    assert [(s.start, s.end) for s in silences(speech, (0.0, 12.0))] == [
        (0.0, 5.0),
        (6.0, 6.5),
        (7.0, 9.5),
        (10.0, 12.0),
    ]
    tt = turn_taking(speech, (4.0, 11.0))
    assert [(s.start, s.end) for s in tt.dead_air] == [(7.0, 9.5)]
    assert tt.summary()["dead_air_s"] == 2.5


def test_a_deadlock_is_everyone_listening_and_nobody_speaking() -> None:
    speech = {"tim": [(1.0, 3.0)], "chris": [(3.5, 5.0), (20.0, 21.0)]}
    states = {
        "tim": [(0.0, "listening"), (0.9, "speaking"), (3.0, "listening")],
        "chris": [(0.0, "listening"), (3.4, "speaking"), (5.0, "listening"), (19.0, "thinking")],
    }
    tt = turn_taking(speech, (0.0, 22.0), states, TurnThresholds(deadlock_s=6.0))
    assert tt.deadlocks is not None
    assert [(s.start, s.end) for s in tt.deadlocks] == [(5.0, 19.0)]
    assert tt.summary()["deadlocks"] == 1 and tt.summary()["deadlock_s"] == 14.0
    # the same silence with Chris thinking the whole time is no deadlock
    thinking = {**states, "chris": [(0.0, "listening"), (3.4, "speaking"), (5.0, "thinking")]}
    assert turn_taking(speech, (0.0, 22.0), thinking).deadlocks == ()
    # after the call window (the goodbyes) both listening is normal
    assert turn_taking(speech, (0.0, 8.0), states).deadlocks == ()


def test_checks_from_the_analytics() -> None:
    quiet = turn_taking({}, None)
    assert overlap(quiet, NAMES).status == "pending"
    assert deadlock(quiet, NAMES).status == "pending"
    clean = turn_taking(
        {"tim": [(0.0, 2.0)], "chris": [(2.5, 4.0)]},
        (0.0, 4.0),
        {"tim": [(0.0, "listening")], "chris": [(0.0, "speaking")]},
    )
    assert [c.status for c in turn_checks(clean, NAMES)] == ["ok", "ok"]
    talked_over = turn_taking({"tim": [(0.0, 3.0)], "chris": [(1.5, 4.0)]}, None)
    check = overlap(talked_over, NAMES)
    assert check.status == "fail"
    assert (
        check.finding == "Chris and Tim spoke at the same time 1 time (1.5 s in all, longest 1.5 s)"
    )
    brief = turn_taking({"tim": [(0.0, 3.0)], "chris": [(2.3, 4.0)]}, None)
    assert overlap(brief, NAMES).status == "warn"  # 0.7 s: an overlap, under the failing total
    handover = turn_taking({"tim": [(0.0, 3.0)], "chris": [(2.5, 4.0)]}, None)
    assert overlap(handover, NAMES).status == "ok"  # 0.5 s at a turn change is delivery jitter
    stuck = turn_taking(
        {"tim": [(0.0, 1.0)]},
        (0.0, 20.0),
        {"tim": [(0.0, "speaking"), (1.0, "listening")], "chris": [(0.0, "listening")]},
    )
    check = deadlock(stuck, NAMES)
    assert check.status == "fail"
    assert "Chris and Tim were all listening and nobody spoke for 19.0 s" in check.finding
