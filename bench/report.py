"""The end of ``python -m bench``: the targets checked and the tables printed.

:func:`collect_checks` turns the stages' results into :class:`~bench.common.Check` rows (a
value, its target and pass/fail); :func:`render` prints the tables, Markdown so they can go into
the README as they are.
"""

from __future__ import annotations

from typing import Any

from bench import (
    all_agents,
    cluster_bench,
    concurrency,
    dashboard_load,
    floor_stage,
    launch_time,
    time_to_agents,
)
from bench.common import Check, at_most, fmt, table, verdict


def collect_checks(results: dict[str, Any]) -> list[Check]:
    """Every target of the stages that ran, in the order of the stages."""
    found: list[Check] = []
    if "time_to_agents" in results:
        found += time_to_agents.checks(results["time_to_agents"])
    if "all_agents" in results:
        found += all_agents.checks(results["all_agents"])
    if "launch" in results:
        found += launch_time.checks(results["launch"])
    if "concurrency" in results:
        found += concurrency.checks(results["concurrency"])
    if "floor" in results:
        found += floor_stage.floor_checks(results["floor"])
    if "ramp" in results:
        found += floor_stage.ramp_checks(results["ramp"])
    found += dashboard_load.checks(results.get("dashboard_flood"), results.get("dashboard_observe"))
    if "cluster" in results and "error" not in results["cluster"]:
        found += cluster_bench.checks(results["cluster"])
    lost = lost_lines_total(results)
    if lost is not None:
        found.append(at_most("lost lines (concurrency and cluster stages)", lost, 0, "", "0"))
    return found


def lost_lines_total(results: dict[str, Any]) -> float | None:
    """Scripted lines of accepted calls that never reached the observer as a final transcript,
    over every concurrency level and the cluster; None when neither stage ran."""
    counted: list[int] = [
        level["lost_lines"] for level in results.get("concurrency", {}).get("levels", [])
    ]
    cluster = results.get("cluster", {})
    if "lost_lines" in cluster:
        counted.append(cluster["lost_lines"])
    return float(sum(counted)) if counted else None


def _ms(summary: dict[str, Any], stat: str) -> str:
    return fmt(summary.get(stat), "s")


def render(results: dict[str, Any]) -> str:
    """The tables printed at the end (Markdown, so they can go into the README as they are)."""
    parts: list[str] = []
    machine = results["machine"]
    parts.append(
        f"Machine: {machine['cpu_count_logical']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_total_mb']} MB, Python {machine['python']}, "
        f"{machine['livekit_server']}, load average at start "
        f"{' '.join(map(str, results['load_average']['start']))}, at end "
        f"{' '.join(map(str, results['load_average'].get('end', [])))}. Mode: {results['mode']}."
    )
    if "time_to_agents" in results:
        rows = []
        for variant, data in results["time_to_agents"]["variants"].items():
            rows.append(
                [
                    variant,
                    f"{data['rooms'] - data['failed']}/{data['rooms']}",
                    _ms(data["both_subscribed_s"], "p50"),
                    _ms(data["both_subscribed_s"], "p95"),
                    _ms(data["tim_audible_s"], "p50"),
                    _ms(data["tim_audible_s"], "p95"),
                    _ms(data["tim_subscribed_s"], "p50"),
                    _ms(data["chris_subscribed_s"], "p50"),
                ]
            )
        ratios = results["time_to_agents"].get("ratio_multi_over_two_workers", {})
        parts.append(
            "Time from create-room request (sequential rooms):\n"
            + table(
                rows,
                [
                    "set-up",
                    "ok",
                    "both agents p50",
                    "p95",
                    "Tim audible p50",
                    "p95",
                    "Tim track p50",
                    "Chris track p50",
                ],
            )
            + (
                f"\nratio multi / two workers: both agents p50 "
                f"{fmt(ratios.get('both_subscribed_s_p50'), 'x')}, p95 "
                f"{fmt(ratios.get('both_subscribed_s_p95'), 'x')}; Tim audible p50 "
                f"{fmt(ratios.get('tim_audible_s_p50'), 'x')}, p95 "
                f"{fmt(ratios.get('tim_audible_s_p95'), 'x')}"
                if ratios
                else ""
            )
        )
    if "concurrency" in results:
        rows = [
            [
                str(level["rooms"]),
                f"{level['completed']}/{level['rooms']}"
                + (" (worker died)" if level.get("worker_crash") else ""),
                str(level.get("refused", "-")),
                str(level.get("lost_lines", "-")),
                _ms(level["both_subscribed_s"], "p50"),
                _ms(level["both_subscribed_s"], "p95"),
                _ms(level.get("sessions_started_s") or {}, "p95"),
                _ms(level["tim_audible_s"], "p95"),
                _ms(level["turn_gap_s"], "p95"),
                fmt(level["call_s"]["max"], "s"),
                fmt(level["worker"]["cpu_percent_of_core"], "%"),
                fmt(level["worker"]["rss_peak_mb"], "MB"),
            ]
            for level in results["concurrency"]["levels"]
        ]
        parts.append(
            "One worker, concurrent calls:\n"
            + table(
                rows,
                [
                    "calls",
                    "completed",
                    "refused",
                    "lost lines",
                    "both agents p50",
                    "p95",
                    "sessions started p95 (worker's clock)",
                    "Tim audible p95",
                    "turn gap p95",
                    "longest call",
                    "worker CPU (of 1 core)",
                    "worker peak RSS",
                ],
            )
        )
    concurrent = _concurrent_table(results)
    if concurrent:
        parts.append(concurrent)
    if "dashboard_flood" in results:
        flood = results["dashboard_flood"]
        rows = [
            ["log records produced / s", fmt(flood["achieved_rate"], "rec/s")],
            ["absorbed / s", fmt(flood["absorbed_rate"], "rec/s")],
            ["dropped", f"{flood['dropped']:,}"],
            ["key press to screen p50 (idle)", _ms(flood["key_latency_idle_s"], "p50")],
            [
                "key press to screen p50 / p95 (flood)",
                f"{_ms(flood['key_latency_s'], 'p50')} / {_ms(flood['key_latency_s'], 'p95')}",
            ],
            ["key presses timed out", str(flood["key_timeouts"])],
            ["RSS growth", fmt(flood["process"].get("rss_growth_mb"), "MB")],
            ["process CPU during flood", fmt(flood["process"].get("cpu_percent_of_core"), "%")],
        ]
        observe = results.get("dashboard_observe", {})
        for key, label in (
            ("dashboard_only", "CPU observing a call: dashboard (worker elsewhere), median"),
            ("observer_only", "CPU observing a call: observer alone"),
            ("with_worker", "CPU during a call: dashboard + in-process worker"),
        ):
            if key in observe:
                value = fmt(observe[key]["cpu_percent_of_core"], "%")
                runs = observe[key].get("runs_cpu_percent_of_core", [])
                if len(runs) > 1:
                    value += " (runs: " + ", ".join(f"{run:.1f}" for run in runs) + ")"
                rows.append([label, value])
        parts.append("Dashboard:\n" + table(rows, ["measurement", "value"]))
    checks = [Check(**{k: v for k, v in c.items()}) for c in results.get("checks", [])]
    parts.append(
        "Targets (issues 6, 15, 18):\n"
        + table(
            [[c.name, fmt(c.value, c.unit), c.target or "-", verdict(c) or "-"] for c in checks],
            ["metric", "value", "target", "result"],
        )
    )
    missed = missed_reasons(checks)
    if missed:
        parts.append(missed)
    return "\n\n".join(parts)


def missed_reasons(checks: list[Check]) -> str:
    """Each missed target with what the run measured of its cause ("" when none is missed)."""
    reasons = [f"- {c.name}: {c.why}" for c in checks if c.passed is False and c.why]
    if not reasons:
        return ""
    return "\n".join(["Missed, and why (measured in this run; README, Performance):", *reasons])


def _concurrent_table(results: dict[str, Any]) -> str:
    """Concurrent calls: one worker on one server (stage 2) beside the cluster (stage 4)."""
    rows = [
        [
            "one server, one worker",
            str(level["rooms"]),
            f"{level['completed']}/{level['rooms']}",
            _ms(level["both_subscribed_s"], "p50"),
            _ms(level["both_subscribed_s"], "p95"),
            "-",
        ]
        for level in results.get("concurrency", {}).get("levels", [])
    ]
    cluster = results.get("cluster")
    note = ""
    if cluster and "error" in cluster:
        note = f"\ncluster: not run ({cluster['error']})"
    elif cluster:
        spread = sorted(cluster["jobs_per_worker"].values(), reverse=True)
        measured = cluster.get("worker_capacities") or []
        capacity = (
            f"measured {' + '.join(str(n) for n in measured)}"
            if cluster["capacity"] == "measured" and measured
            else cluster["capacity"]
        )
        rows.append(
            [
                f"cluster: {cluster['nodes']} nodes, {cluster['workers']} workers "
                f"(capacity {capacity})",
                str(cluster["rooms"]),
                f"{cluster['completed']}/{cluster['rooms']}",
                _ms(cluster["time_to_both_agents_s"], "p50"),
                _ms(cluster["time_to_both_agents_s"], "p95"),
                " / ".join(str(n) for n in spread)
                + (f", {cluster['unassigned']} unassigned" if cluster["unassigned"] else ""),
            ]
        )
    if not rows:
        return ""
    return (
        "Concurrent calls, from the create-room request to both agents' audio:\n"
        + table(rows, ["set-up", "calls", "completed", "both agents p50", "p95", "jobs per worker"])
        + note
    )
