"""``python -m bench``: run the benchmarks of issues 6, 15 and 18 and write ``bench/results.json``.

Every stage but the cluster runs on one loopback livekit-server started here, the cluster on a
local cluster of its own; all with the offline voice:

- ``time``: time to both agents, multi-agent worker vs two single-agent workers
  (``time_to_agents``);
- ``agents``: time to every agent's audio with 2, 3 and 4 agents (``all_agents``);
- ``launch``: launching the dashboard's worker to "worker registered", 5 times (``launch_time``);
- ``concurrency``: one worker hosting 1, 5, 10 and 20 calls at once, refused calls and lost
  lines counted, its RSS growth on the first call (``concurrency``);
- ``floor``: the headless worker's CPU for 1 and 10 calls beside bare ``livekit.rtc``
  publishers pushing the same audio (``floor_stage``, ``floor``);
- ``ramp``: 10 rooms one a second against the headless worker with default settings
  (``floor_stage``, ``room_ramp``);
- ``dashboard``: the dashboard under a log flood, and its CPU while observing a call
  (``dashboard_load``, ``dashboard_observe``);
- ``cluster``: 20 calls at once on two nodes and two headless workers (``cluster_bench``; needs
  ``redis-server``, see ``make redis``).

``--quick`` runs fewer rooms and launches, concurrency levels 1 and 3, the floor for 1 and 3
calls, a ramp of 4 rooms, a shorter flood, only the dashboard's own call and 6 cluster rooms.
``--only`` picks stages. The tables go to stdout (``bench.report``); worker and server logs stay
in a temporary folder whose path is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import (
    all_agents,
    cluster_bench,
    concurrency,
    dashboard_load,
    dashboard_observe,
    floor_stage,
    launch_time,
    time_to_agents,
)
from bench.common import PROJECT_ROOT, fmt, load_average, machine_info, now_iso, rounded
from bench.report import collect_checks, render
from bench.workers import SingleAgentWorkers, make_log_dir
from tui.cluster.processes import ClusterError
from tui.core.local_server import LocalServer
from tui.core.worker_host import WorkerHost

STAGES = ("time", "agents", "launch", "concurrency", "floor", "ramp", "dashboard", "cluster")
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results.json"
QUICK_OUT = PROJECT_ROOT / "bench" / "results-quick.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rooms, shorter stages")
    parser.add_argument(
        "--rooms", type=int, default=None, help="rooms per set-up in stage 1 (20; quick: 3)"
    )
    parser.add_argument(
        "--levels",
        default=None,
        help="concurrent calls per level of stage concurrency, comma separated "
        "(1,5,10,20; quick: 1,3)",
    )
    parser.add_argument(
        "--agent-rooms",
        type=int,
        default=None,
        help="rooms per agent count in stage agents (10; quick: 2)",
    )
    parser.add_argument(
        "--floor-calls",
        default=None,
        help="calls per level of stage floor, comma separated (1,10; quick: 1,3)",
    )
    parser.add_argument(
        "--ramp-rooms", type=int, default=None, help="rooms one a second, stage ramp (10; quick: 4)"
    )
    parser.add_argument(
        "--launches", type=int, default=None, help="worker launches in stage launch (5; quick: 3)"
    )
    parser.add_argument(
        "--flood-rate", type=int, default=10_000, help="log records per second in stage 3"
    )
    parser.add_argument(
        "--flood-seconds", type=float, default=None, help="flood duration (5; quick: 2)"
    )
    parser.add_argument(
        "--cluster-rooms",
        type=int,
        default=None,
        help="concurrent rooms in stage 4, on two nodes and two workers (20; quick: 6)",
    )
    parser.add_argument(
        "--only", default=",".join(STAGES), help=f"stages to run, from {','.join(STAGES)}"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"JSON output (default {DEFAULT_OUT.relative_to(PROJECT_ROOT)}; "
        f"quick: {QUICK_OUT.relative_to(PROJECT_ROOT)})",
    )
    args = parser.parse_args(argv)
    args.rooms = args.rooms or (3 if args.quick else 20)
    levels = args.levels or ("1,3" if args.quick else "1,5,10,20")
    args.levels = _counts(parser, "--levels", levels)
    args.floor_calls = _counts(
        parser, "--floor-calls", args.floor_calls or ("1,3" if args.quick else "1,10")
    )
    args.agent_rooms = args.agent_rooms or (2 if args.quick else 10)
    args.ramp_rooms = args.ramp_rooms or (4 if args.quick else 10)
    args.launches = args.launches or (3 if args.quick else 5)
    args.flood_seconds = args.flood_seconds or (2.0 if args.quick else 5.0)
    args.cluster_rooms = args.cluster_rooms or (6 if args.quick else 20)
    args.only = tuple(stage.strip() for stage in args.only.split(",") if stage.strip())
    unknown = set(args.only) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}: use {','.join(STAGES)}")
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    return args


def _counts(parser: argparse.ArgumentParser, option: str, text: str) -> tuple[int, ...]:
    """Comma-separated positive whole numbers, or a one-line usage error naming the option."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        parser.error(f"{option} {text!r}: use positive whole numbers separated by commas, e.g. 1,5")
    return counts


def progress(message: str) -> None:
    print(message, flush=True)


def _stage(results: dict[str, Any], name: str) -> float:
    progress(f"\n== {name} (load average {' '.join(map(str, load_average()))})")
    results["load_average"][f"before_{name}"] = load_average()
    return time.monotonic()


def dispatch_failures(server: LocalServer) -> int:
    """How many job requests the server could not place, from its own log.

    livekit-server logs "failed to send job request" when no worker took a dispatch; the room
    then never gets its agent. The line names no room, so it is counted per stage.
    """
    if server.log_path is None or not server.log_path.exists():
        return 0
    return server.log_path.read_text(errors="replace").count("failed to send job request")


def _end_stage(results: dict[str, Any], server: LocalServer, name: str, started: float) -> None:
    results["durations_s"][name] = time.monotonic() - started
    total = dispatch_failures(server)
    counted = sum(results["server_dispatch_failures"].values())
    results["server_dispatch_failures"][name] = total - counted


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every requested stage, in an order that never has two workers on one agent name."""
    log_dir = make_log_dir()
    # the bench's own warnings (and the SDKs') go to a file: stdout is for the table
    handler = logging.FileHandler(log_dir / "bench.log")
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    results: dict[str, Any] = {
        "generated_at": now_iso(),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "load_average": {"start": load_average()},
        "settings": {
            "rooms": args.rooms,
            "levels": list(args.levels),
            "agent_rooms": args.agent_rooms,
            "launches": args.launches,
            "floor_calls": list(args.floor_calls),
            "ramp_rooms": args.ramp_rooms,
            "flood_rate": args.flood_rate,
            "flood_seconds": args.flood_seconds,
            "cluster_rooms": args.cluster_rooms,
            "stages": list(args.only),
        },
        "log_dir": str(log_dir),
    }
    progress(f"logs: {log_dir}")
    started = time.monotonic()
    server = LocalServer()
    await server.astart()
    results["durations_s"] = {}
    results["server_dispatch_failures"] = {}
    try:
        # One worker per agent name at any time: two registered workers with the same name
        # would split the dispatches between them. Each stage starts the workers it measures.
        if "time" in args.only:
            t = _stage(results, "time_to_agents")
            async with (
                WorkerHost(server, log_dir, "worker_host_time") as host,
                SingleAgentWorkers(server, log_dir),
            ):
                results["time_to_agents"] = await time_to_agents.run(
                    server, host, args.rooms, progress=progress
                )
            _end_stage(results, server, "time_to_agents", t)
        if "agents" in args.only:
            t = _stage(results, "all_agents")
            async with WorkerHost(server, log_dir, "worker_host_agents") as host:
                results["all_agents"] = await all_agents.run(
                    server, host, args.agent_rooms, progress=progress
                )
            _end_stage(results, server, "all_agents", t)
        if "launch" in args.only:
            t = _stage(results, "launch")
            results["launch"] = await launch_time.run(
                server, log_dir, args.launches, progress=progress
            )
            _end_stage(results, server, "launch", t)
        if "concurrency" in args.only:
            t = _stage(results, "concurrency")
            results["concurrency"] = await concurrency.run(
                server, log_dir, args.levels, progress=progress
            )
            _end_stage(results, server, "concurrency", t)
        if "floor" in args.only:
            t = _stage(results, "floor")
            results["floor"] = await floor_stage.run_floor(
                server, log_dir, args.floor_calls, 5.0 if args.quick else 8.0, progress=progress
            )
            _end_stage(results, server, "floor", t)
        if "ramp" in args.only:
            t = _stage(results, "ramp")
            results["ramp"] = await floor_stage.run_ramp(
                server, log_dir, args.ramp_rooms, progress=progress
            )
            _end_stage(results, server, "ramp", t)
        if "dashboard" in args.only:
            t = _stage(results, "dashboard")
            credentials = (server.url, server.api_key, server.api_secret)
            results["dashboard_flood"] = await dashboard_load.log_flood(
                *credentials,
                rate=args.flood_rate,
                duration_s=args.flood_seconds,
                log_dir=log_dir,
            )
            flood = results["dashboard_flood"]
            progress(
                f"  flood: {flood['absorbed_rate']:,.0f} rec/s absorbed, "
                f"{flood['dropped']} dropped, key p95 "
                f"{fmt(flood['key_latency_s']['p95'], 's')}, RSS growth "
                f"{flood['process'].get('rss_growth_mb', 0):.1f} MB"
            )
            # the calls' worker runs in its own process, so only the dashboard is measured
            async with WorkerHost(server, log_dir, "worker_host_dashboard"):
                results["dashboard_observe"] = await dashboard_observe.observe_costs(
                    *credentials,
                    log_dir=log_dir,
                    progress=progress,
                    observer_only=not args.quick,
                    calls=1 if args.quick else 3,
                )
            if not args.quick:
                # the hosted worker is gone: the dashboard's own worker gets the dispatch
                results["dashboard_observe"][
                    "with_worker"
                ] = await dashboard_observe.observe_with_worker(
                    *credentials, log_dir=log_dir, progress=progress
                )
        if "dashboard" in args.only:
            _end_stage(results, server, "dashboard", t)
        if "cluster" in args.only:
            # a cluster of its own (Redis, two nodes, two workers): the server above idles
            t = _stage(results, "cluster")
            try:
                results["cluster"] = await cluster_bench.run_cluster_bench(
                    args.cluster_rooms, progress=progress
                )
            except ClusterError as exc:
                progress(f"  cluster stage skipped: {exc}")
                results["cluster"] = {"error": str(exc)}
            results["durations_s"]["cluster"] = time.monotonic() - t
    finally:
        await server.astop()
        logging.getLogger().removeHandler(handler)
        handler.close()
    results["load_average"]["end"] = load_average()
    results["durations_s"]["total"] = time.monotonic() - started
    results["checks"] = [check.as_dict() for check in collect_checks(results)]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = asyncio.run(run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    output = render(results)
    print("\n" + output)
    results["table"] = output
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rounded(results), indent=2, default=str) + "\n")
    print(f"\nwrote {args.out} in {results['durations_s']['total']:.0f} s")
    failed = [c for c in results["checks"] if c["passed"] is False]
    # a benchmark reports: a missed target is a result, not a crash, so the exit code stays 0
    if failed:
        print(f"{len(failed)} target(s) missed: {', '.join(c['name'] for c in failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
