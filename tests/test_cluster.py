"""The dashboard's view of a real local cluster: Redis, two livekit-server nodes, two headless
``start`` workers (offline voice), every listener on 127.0.0.1.

One cluster serves the module (starting it takes most of ten seconds). The worker-kill tests
run last, in file order: the first kills one worker, the dashboard test then kills the other.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from helpers import assert_every_line_arrived, eventually
from livekit.protocol import agent, agent_dispatch
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from tui.cluster.launcher import Cluster, node_configs, write_env_file
from tui.cluster.load import ClusterSession, RoomWatch, run_conversations, scripted_scenario
from tui.cluster.processes import HeadlessWorker
from tui.core.control_plane_jobs import jobs_of
from tui.core.events import RoomJob, SessionEvent
from tui.core.local_server import ServerConfig
from tui.core.log_bridge import LogCapture
from tui.core.settings import DashboardOptions, LiveKitSettings
from tui.ui.app import DispatchApp
from tui.ui.widgets.agent_pane import AgentPane
from tui.ui.widgets.jobs_line import JobsLine

pytestmark = pytest.mark.cluster

ROOMS = 10
PER_WORKER = 8
"""Each worker's fixed capacity: the ten rooms at once fit with room to spare, and neither worker
can take them all, so both run calls whatever the server's draw (see the ten-rooms test)."""
TIMEOUT_S = 90.0  # generous: two cores shared with other test runs


# --- pure parts: no processes ------------------------------------------------------------------


def test_node_configs_share_credentials_and_redis_on_distinct_loopback_ports() -> None:
    base = ServerConfig.generate()
    configs = node_configs(2, "127.0.0.1:6390", base)
    assert {c.api_key for c in configs} == {base.api_key}
    assert {c.api_secret for c in configs} == {base.api_secret}
    assert len({c.http_port for c in configs}) == 2
    assert len({c.udp_port for c in configs}) == 2
    for config in configs:
        parsed = json.loads(config.to_yaml())
        assert parsed["redis"] == {"address": "127.0.0.1:6390"}
        assert parsed["bind_addresses"] == ["127.0.0.1"]
        assert base.api_secret not in repr(config)
    assert "redis" not in json.loads(base.to_yaml()), "a single node keeps no Redis section"


def test_worker_environment_carries_the_secret_outside_argv(tmp_path: object) -> None:
    worker = HeadlessWorker(0, "ws://127.0.0.1:1", "key", "s" * 40, log_path=tmp_path)  # type: ignore[arg-type]
    env = worker.environment()
    assert env["LIVEKIT_URL"] == "ws://127.0.0.1:1"
    assert env["LIVEKIT_API_SECRET"] == "s" * 40
    assert env["DISPATCH_VOICE"] == "offline"


def _job(job_id: str, worker: str, status: int, identity: str, started_s: float) -> agent.Job:
    return agent.Job(
        id=job_id,
        state=agent.JobState(
            status=status,  # type: ignore[arg-type]
            worker_id=worker,
            participant_identity=identity,
            started_at=int(started_s * 1e9),
        ),
    )


def test_jobs_of_reports_lost_and_unassigned_jobs() -> None:
    now = 1_000.0
    running = agent.JobStatus.JS_RUNNING
    dispatches = [
        agent_dispatch.AgentDispatch(
            id="AD_a",
            state=agent_dispatch.AgentDispatchState(
                jobs=[
                    _job("AJ_here", "AW_1", running, "tim-1", now - 100),
                    _job("AJ_gone", "AW_2", running, "tim-2", now - 100),
                    _job("AJ_new", "AW_2", running, "tim-3", now - 2),
                    _job("AJ_done", "AW_1", agent.JobStatus.JS_SUCCESS, "tim-4", now - 100),
                ]
            ),
        ),
        agent_dispatch.AgentDispatch(id="AD_b"),
    ]
    rows = jobs_of(dispatches, present={"tim-1"}, now=now)
    assert [(r.job_id, r.worker_id, r.status) for r in rows] == [
        ("AJ_here", "AW_1", "running"),
        ("AJ_gone", "AW_2", "lost"),  # running per the server, its participant left
        ("AJ_new", "AW_2", "running"),  # still joining
        ("AJ_done", "AW_1", "success"),
        ("", "", "unassigned"),
    ]
    job_id, worker_id, status, *_ = rows[0]
    assert (job_id, worker_id, status) == ("AJ_here", "AW_1", "running")


def test_workers_measure_their_share_of_the_machine_unless_given_a_count(tmp_path: Path) -> None:
    measured = Cluster(nodes=1, workers=3, workdir=tmp_path)
    assert measured.worker_env == {"DISPATCH_WORKERS_ON_MACHINE": "3"}
    fixed = Cluster(
        nodes=1, workers=2, capacity=4, worker_env={"DISPATCH_VOICE": "offline"}, workdir=tmp_path
    )
    assert fixed.worker_env == {"DISPATCH_WORKER_CAPACITY": "4", "DISPATCH_VOICE": "offline"}
    with pytest.raises(ValueError, match="at least one call"):
        Cluster(nodes=1, workers=1, capacity=0)


def test_room_watch_times_the_sessions_by_the_workers_clock() -> None:
    watch = RoomWatch("r", "u", "u", frozenset({"tim", "chris"}), 10.0, created_wall=1000.0)
    started = SessionEvent("r", "tim", "dispatcher", "session_started", {}, sent_at=1000.4)
    watch.sink(started)
    assert watch.sessions_started_s is None, "one agent of two has started"
    watch.sink(SessionEvent("r", "chris", "driver", "session_started", {}, sent_at=1000.9))
    watch.sink(SessionEvent("r", "tim", "dispatcher", "session_started", {}, sent_at=1003.0))
    assert watch.sessions_started_s == pytest.approx(0.9), "the first report of each counts"


def test_env_file_is_private(tmp_path: object) -> None:
    from pathlib import Path

    cluster = Cluster(nodes=1, workers=0)
    cluster.nodes = []  # nothing started: env_lines needs a node URL only
    path = Path(str(tmp_path)) / "sub" / "cluster.env"

    class _Node:
        url = "ws://127.0.0.1:7880"

    cluster.nodes = [_Node()]  # type: ignore[list-item]
    write_env_file(cluster, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"LIVEKIT_API_SECRET={cluster.api_secret}" in path.read_text()


# --- the real cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = time.monotonic()
    # a fixed count: the ten rooms at once must all run, on any machine (a measured capacity,
    # the default, would refuse most of them on 2 cores)
    with Cluster(nodes=2, workers=2, capacity=PER_WORKER) as running:
        print(f"\ncluster up in {time.monotonic() - started:.1f}s: {running.urls}")
        yield running


@pytest.fixture
async def session(cluster: Cluster) -> AsyncIterator[ClusterSession]:
    async with ClusterSession(cluster.urls, cluster.api_key, cluster.api_secret) as opened:
        yield opened


def _listening(pid: int) -> list[str]:
    out = subprocess.run(["ss", "-lntupH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[4] for line in out.splitlines() if f"pid={pid}," in line]


def test_every_listener_is_on_loopback(cluster: Cluster) -> None:
    assert cluster.redis is not None and cluster.redis.pid is not None
    pids = [cluster.redis.pid] + [n.pid for n in cluster.nodes] + [w.pid for w in cluster.workers]
    for pid in pids:
        assert pid is not None
        addresses = _listening(pid)
        assert addresses, f"process {pid} should listen somewhere"
        assert all(a.startswith("127.0.0.1:") for a in addresses), addresses
    assert all(w.worker_id for w in cluster.workers), "every worker registered"
    # both on node A (see DEFAULT_WORKER_NODE): rooms on node B reach them through Redis
    assert {w.url for w in cluster.workers} == {cluster.urls[0]}


async def test_ten_rooms_through_both_nodes_complete_on_both_workers(
    cluster: Cluster, session: ClusterSession
) -> None:
    result = await run_conversations(session, ROOMS, timeout_s=TIMEOUT_S)
    per_worker = result.jobs_per_worker()
    print(
        f"\n{result.completed}/{ROOMS} completed in {result.wall_s:.1f}s; time to both agents "
        f"{[round(t, 2) for t in result.times_to_both_agents]}; jobs per worker {per_worker}"
    )
    for watch in result.watches:
        assert watch.created_via != watch.observed_via, "created on one node, observed on other"
        assert watch.both_agents_at is not None, f"{watch.room}: agents never both published"
        assert_every_line_arrived(watch)
    for room, rows in result.jobs.items():
        assert [r.status for r in rows] == ["running"], f"{room}: {rows}"
    # Both workers take jobs: within a node, livekit-server draws each job's worker at random,
    # weighted by spare load (reported as calls / DISPATCH_WORKER_CAPACITY, every 2.5 s, so a
    # burst draws with stale loads: 4/6, 3/7, 3/7, 2/8 measured, and 10/0 once beside a
    # burner). A worker at its capacity refuses and the server offers the job to the other.
    assert set(per_worker) == {w.worker_id for w in cluster.workers}, per_worker
    assert max(per_worker.values()) <= PER_WORKER, per_worker
    assert sum(per_worker.values()) == ROOMS


async def test_room_list_and_jobs_are_the_same_through_every_node(
    session: ClusterSession,
) -> None:
    long_script = [
        ("dispatcher" if i % 2 == 0 else "driver", f"Line {i + 1} of a long call.")
        for i in range(12)
    ]
    watch = await session.open_room(0, scripted_scenario(long_script))  # created on node 0
    try:
        assert await watch.wait_until(lambda w: len(w.lines) >= 1, TIMEOUT_S)
        for plane in session.planes:
            names = {room.name for room in await plane.list_rooms()}
            assert watch.room in names, f"{plane.url} lists the room made on node 0"
        through_a = [r[:3] for r in await session.assigned_jobs(watch.room, 0)]
        through_b = [r[:3] for r in await session.jobs(watch.room, 1)]
        assert through_a == through_b and through_a[0][2] == "running"
    finally:
        await session.delete_rooms([watch.room])


async def _open_until_both_workers_busy(
    session: ClusterSession, cluster: Cluster, script: list[tuple[str, str]]
) -> tuple[list[RoomWatch], dict[str, str]]:
    """Open rooms one by one until each worker runs at least one; ``room -> worker id``.

    The server draws the worker (weighted by spare load), so which one gets the next job is not
    ours to decide; one at a time, the first few rooms almost always cover both.
    """
    watches: list[RoomWatch] = []
    owner: dict[str, str] = {}
    wanted = {w.worker_id for w in cluster.workers}
    limit = 8
    for index in range(limit):
        watch = await session.open_room(index, scripted_scenario(script))
        watches.append(watch)
        assert await watch.wait_until(lambda w: w.both_agents_at is not None, TIMEOUT_S)
        rows = await session.assigned_jobs(watch.room)
        owner[watch.room] = rows[0].worker_id
        if set(owner.values()) >= wanted:
            return watches, owner
    pytest.fail(f"{limit} rooms and still not both workers busy: {owner}")


async def test_killing_a_worker_loses_its_jobs_and_spares_the_others(
    cluster: Cluster, session: ClusterSession
) -> None:
    script = [
        ("dispatcher" if i % 2 == 0 else "driver", f"Line {i + 1} of a long call.")
        for i in range(30)
    ]
    watches, owner = await _open_until_both_workers_busy(session, cluster, script)
    try:
        victim = cluster.workers[0]
        lost = [w for w in watches if owner[w.room] == victim.worker_id]
        spared = [w for w in watches if owner[w.room] != victim.worker_id]
        before = {w.room: len(w.lines) for w in spared}

        victim.kill()  # the worker and its job processes, at once: no drain, no goodbye
        assert not victim.running

        # the surviving worker's rooms keep talking
        for watch in spared:
            grown = await watch.wait_until(lambda w: len(w.lines) >= before[w.room] + 2, TIMEOUT_S)
            assert grown, f"{watch.room} stopped talking when another worker died"
        # the dead worker's agents leave (the server drops their connections)...
        for watch in lost:
            assert await watch.wait_until(lambda w: w.left >= w.agents, TIMEOUT_S)
        # ...and the dashboard's job rows say so, through either node
        for index, watch in enumerate(lost):

            async def lost_rows(room: str = watch.room, node: int = index % 2) -> list[RoomJob]:
                rows = await session.jobs(room, node)
                return rows if rows[0].status == "lost" else []

            # the lost state is a function of time (grace): ask once a second
            rows = await eventually(lost_rows, TIMEOUT_S, "the job to be lost", interval_s=1.0)
            assert rows[0].status == "lost", rows
            assert rows[0].worker_id == victim.worker_id
        for watch in spared:
            assert [r.status for r in await session.jobs(watch.room)] == ["running"]
            assert watch.left.isdisjoint(watch.agents)
    finally:
        await session.delete_rooms([w.room for w in watches])


# --- the dashboard attached to one node ------------------------------------------------------


async def _until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    await eventually(condition, TIMEOUT_S, what, interval_s=0.1, pause=pilot.pause)


async def test_dashboard_on_one_node_reports_the_job_lost_when_its_worker_dies(
    cluster: Cluster, session: ClusterSession, tmp_path: Path
) -> None:
    """Runs after the kill test: the one worker left takes the room, then is killed too."""
    survivor = next(w for w in cluster.workers if w.running)
    script = [
        ("dispatcher" if i % 2 == 0 else "driver", f"Line {i + 1} of a long call.")
        for i in range(30)
    ]
    watch = await session.open_room(1, scripted_scenario(script))  # created through node B
    capture = LogCapture(tmp_path / "dashboard.log")
    capture.start()
    options = DashboardOptions(
        LiveKitSettings(cluster.urls[0], cluster.api_key, cluster.api_secret, "node A"),
        (),
        no_worker=True,
        voice="offline",
    )
    app = DispatchApp(options, capture)
    messages: list[Message] = []
    try:
        async with app.run_test(size=(170, 50), message_hook=messages.append) as pilot:
            await _until(
                pilot, lambda: watch.room in {r.name for r in app.rooms}, "the room on node A"
            )
            if app.state.room != watch.room:
                app.switch_room(watch.room)
            line = app.query_one(JobsLine)
            running = f"running on worker {survivor.worker_id} (pid {survivor.pid}@"
            await _until(pilot, lambda: running in line.text, f"{running!r} in the jobs line")
            # no worker in this process: per-turn latency can only have come through the room
            await _until(
                pilot,
                lambda: all(
                    "latency" in app.query_one(f"#pane-{role}", AgentPane).info_text
                    for role in ("dispatcher", "driver")
                ),
                "per-turn latency in both panes of a --no-worker dashboard",
            )

            survivor.kill()
            lost = "lost: the worker stopped; press d to re-dispatch"
            await _until(pilot, lambda: lost in line.text, "the jobs line to say the job is lost")
            assert f"on worker {survivor.worker_id} (pid {survivor.pid}@" in line.text
            assert line.has_class("-bad")

            def notices() -> list[str]:
                return [
                    str(m.notification.message)
                    for m in messages
                    if isinstance(m, Notify) and "lost" in str(m.notification.message)
                ]

            await _until(pilot, notices, "the lost-job notification")
            # two more listings of the room's jobs: still one notification
            listed = app.state.jobs_at
            await _until(pilot, lambda: (app.state.jobs_at or 0) > (listed or 0), "a listing")
            listed = app.state.jobs_at
            await _until(pilot, lambda: (app.state.jobs_at or 0) > (listed or 0), "a listing")
            assert len(notices()) == 1, notices()
            assert notices()[0].startswith("job AJ_") and lost in notices()[0]
            assert f"on worker {survivor.worker_id} (pid {survivor.pid}@" in notices()[0]
            check = {c.id: c for c in app.diagnostics.evaluate(time.monotonic())}["dispatch.job"]
            assert check.status == "fail" and "lost: the worker stopped" in check.finding
    finally:
        capture.close()
        await session.delete_rooms([watch.room])
