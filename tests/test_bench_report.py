"""The benchmarks' rows and verdicts (issues 15 and 18), from results shaped like a run's.

Pure: no server, no worker. What a stage measures is checked by running ``python -m bench``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import all_agents, cluster_bench, concurrency, floor_stage, launch_time
from bench.__main__ import parse_args
from bench.report import collect_checks, lost_lines_total, missed_reasons


def _summary(p50: float | None, p95: float | None) -> dict[str, Any]:
    return {"n": 2, "p50": p50, "p95": p95, "mean": p50, "min": p50, "max": p95}


def _level(rooms: int, **changes: Any) -> dict[str, Any]:
    level: dict[str, Any] = {
        "rooms": rooms,
        "completed": rooms,
        "accepted": rooms,
        "refused": 0,
        "worker_full_lines": 0,
        "lost_lines": 0,
        "all_completed": True,
        "all_accepted_completed": True,
        "both_subscribed_s": _summary(0.5, 0.6),
        "worker": {
            "cpu_percent_of_core": 20.0,
            "rss_start_mb": 220.0,
            "rss_peak_mb": 300.0,
            "rss_end_mb": 260.0,
            "rss_growth_mb": 80.0,
        },
    }
    level.update(changes)
    return level


def _by_name(checks: list[Any]) -> dict[str, Any]:
    return {check.name: check for check in checks}


def test_lost_lines_counts_missing_finals_never_negative() -> None:
    assert concurrency.lost_lines(4, 1) == 3
    assert concurrency.lost_lines(4, 4) == 0
    assert concurrency.lost_lines(4, 6) == 0  # a line split in two segments loses nothing


def test_refused_calls_pass_only_when_the_worker_said_it_was_full() -> None:
    silent = _level(20, completed=12, accepted=12, refused=8, all_completed=False)
    visible = {**silent, "worker_full_lines": 1}
    name = "20 concurrent calls: accepted calls completed (8 refused)"
    assert _by_name(concurrency.checks({"levels": [silent]}))[name].passed is False
    check = _by_name(concurrency.checks({"levels": [visible]}))[name]
    assert check.passed is True
    assert check.target == "12/12, the rest refused visibly"
    broken = {**visible, "completed": 11, "all_accepted_completed": False}
    assert _by_name(concurrency.checks({"levels": [broken]}))[name].passed is False


def test_first_call_rss_growth_is_read_from_the_one_call_level() -> None:
    name = "worker RSS growth on the first call (fresh worker, peak)"
    levels = [_level(1), _level(5, worker={**_level(5)["worker"], "rss_growth_mb": 500.0})]
    assert _by_name(concurrency.checks({"levels": levels}))[name].passed is True
    grown = [_level(1, worker={**_level(1)["worker"], "rss_growth_mb": 274.0})]
    check = _by_name(concurrency.checks({"levels": grown}))[name]
    assert (check.value, check.passed) == (274.0, False)
    assert _by_name(concurrency.checks({"levels": levels}))[
        "worker RSS kept after the first call ended"
    ].value == pytest.approx(40.0)
    assert name not in _by_name(concurrency.checks({"levels": [_level(3)]}))


def test_lost_lines_total_adds_every_level_and_the_cluster() -> None:
    results = {
        "concurrency": {"levels": [_level(1), _level(10, lost_lines=3)]},
        "cluster": {"lost_lines": 2},
    }
    assert lost_lines_total(results) == 5.0
    assert lost_lines_total({}) is None
    only_levels = {"concurrency": results["concurrency"]}
    row = _by_name(collect_checks(only_levels))["lost lines (concurrency and cluster stages)"]
    assert (row.value, row.passed, row.target) == (3.0, False, "0")


def test_floor_ratio_row_names_both_shares_and_holds_two_times_the_floor() -> None:
    assert floor_stage.ratio(0.2, 0.1) == pytest.approx(2.0)
    assert floor_stage.ratio(0.2, 0.0) is None
    assert floor_stage.ratio(None, 0.1) is None
    row = {"calls": 1, "joined": 1, "worker_cpu_percent_of_core": 24.1}
    one = {**row, "floor_cpu_percent_of_core": 6.8, "ratio": 24.1 / 6.8}
    ten = {**row, "calls": 10, "joined": 9, "floor_cpu_percent_of_core": 20.0, "ratio": 1.2}
    found = floor_stage.floor_checks({"levels": [one, ten]})
    assert found[0].name == "worker CPU for one call: 24.1 % of a core, floor 6.8 %, ratio"
    assert found[0].passed is False
    assert found[1].name.endswith("(9 of 10 joined)")
    assert found[1].passed is True
    unmeasured = floor_stage.floor_checks({"levels": [{**one, "ratio": None}]})
    assert unmeasured[0].passed is None


def test_ramp_rows_need_every_room_joined_within_two_seconds() -> None:
    ramp = {"rooms": 10, "interval_s": 1.0, "joined": 10, "slowest_join_s": 1.5}
    rows = floor_stage.ramp_checks({**ramp, "worker_full_lines": 0})
    assert [row.passed for row in rows] == [True, True, None]
    late = floor_stage.ramp_checks(
        {**ramp, "joined": 9, "slowest_join_s": 2.4, "worker_full_lines": 1}
    )
    assert [row.passed for row in late] == [False, False, None]
    assert late[0].name == "10 rooms 1 s apart, default settings: rooms whose agents joined"


def test_agent_count_rows_and_launch_p50() -> None:
    result = {
        "rooms": 3,
        "agents": {
            "2": {"failed": 0, "all_subscribed_s": _summary(0.6, 0.7)},
            "4": {"failed": 1, "all_subscribed_s": _summary(1.2, 1.6)},
        },
    }
    rows = _by_name(all_agents.checks(result))
    assert rows["2 agents: rooms with every agent's audio"].passed is True
    assert rows["4 agents: rooms with every agent's audio"].passed is False
    assert rows["4 agents: create-room to all agents' audio p95"].value == 1.6
    launch = {"launches": 5, "registered_s": _summary(2.3, 2.6)}
    assert launch_time.checks(launch)[0].passed is False
    fast = {"launches": 5, "registered_s": _summary(1.4, 2.6)}
    assert launch_time.checks(fast)[0].passed is True


def test_bad_counts_are_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--levels", "1,x"])
    assert exited.value.code == 2
    assert "--levels '1,x': use positive whole numbers" in capsys.readouterr().err
    args = parse_args(["--quick", "--only", "floor,ramp"])
    assert (args.floor_calls, args.ramp_rooms, args.only) == ((1, 3), 4, ("floor", "ramp"))
    assert parse_args([]).levels == (1, 5, 10, 20)


def _cluster(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "rooms": 20,
        "workers": 2,
        "completed": 4,
        "accepted": 4,
        "refused": 16,
        "unassigned": 16,
        "jobs_per_worker": {"AW_a": 2, "AW_b": 2},
        "time_to_both_agents_s": _summary(2.5, 2.9),
    }
    result.update(changes)
    return result


def test_cluster_passes_when_every_accepted_call_completes_and_the_rest_stay_unassigned() -> None:
    rows = {check.name: check for check in cluster_bench.checks(_cluster())}
    assert rows["cluster: 20 calls at once, accepted completed (16 refused)"].passed is True
    assert rows["cluster: workers that ran calls"].passed is True
    assert rows["cluster: both agents p95 (accepted calls)"].passed is True


def test_cluster_fails_on_an_accepted_call_lost_a_refusal_not_seen_or_a_slow_start() -> None:
    incomplete = cluster_bench.checks(_cluster(completed=3))[0]
    assert incomplete.passed is False
    # a room nobody joined whose dispatch is not unassigned was not refused visibly
    unseen = cluster_bench.checks(_cluster(unassigned=15))[0]
    assert unseen.passed is False
    slow = {
        c.name: c for c in cluster_bench.checks(_cluster(time_to_both_agents_s=_summary(2, 3.2)))
    }
    assert slow["cluster: both agents p95 (accepted calls)"].passed is False


def test_a_missed_target_prints_what_the_run_measured_of_its_cause() -> None:
    level = _level(10, both_subscribed_s=_summary(1.9, 2.3), sessions_started_s=_summary(1, 1.2))
    text = missed_reasons(collect_checks({"concurrency": {"levels": [level]}}))
    assert "Missed, and why" in text
    assert "10 concurrent: both agents p95: by the worker's own clock" in text
    assert "1.20 s p95" in text
    fast = _level(10, both_subscribed_s=_summary(0.9, 1.2), sessions_started_s=_summary(1, 1.0))
    met = collect_checks({"concurrency": {"levels": [fast]}})
    assert missed_reasons(met) == "", "a met target needs no reason"
