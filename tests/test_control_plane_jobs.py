"""Which worker runs each job of a room: the pure status rules, and the control plane's
``list_jobs`` against a real livekit-server (no worker registered for the agent name, so the
dispatch stays unassigned). The running and lost cases with real workers are in
tests/test_app.py (in-process worker) and tests/test_cluster.py (a killed worker)."""

from __future__ import annotations

import pytest
from livekit import api
from livekit.protocol import agent, agent_dispatch

from tui.core.control_plane import ControlPlane, ControlPlaneError
from tui.core.control_plane_jobs import LOST_GRACE_S, RoomJob, RoomWorkers, job_status, jobs_of
from tui.core.local_server import LocalServer

NOW = 10_000.0


def _job(status: int, identity: str = "tim", started_s: float | None = NOW - 100) -> agent.Job:
    return agent.Job(
        id="AJ_1",
        state=agent.JobState(
            status=status,  # type: ignore[arg-type]
            worker_id="AW_1",
            participant_identity=identity,
            started_at=int(started_s * 1e9) if started_s is not None else 0,
            error="agent worker\n  left the room",
        ),
    )


RUNNING = agent.JobStatus.JS_RUNNING


def test_a_running_job_is_lost_only_once_its_participant_is_gone_past_the_grace() -> None:
    assert job_status(_job(RUNNING), {"tim"}, NOW) == "running"
    assert job_status(_job(RUNNING), set(), NOW) == "lost"
    joining = _job(RUNNING, started_s=NOW - LOST_GRACE_S + 1)
    assert job_status(joining, set(), NOW) == "running"
    assert job_status(_job(RUNNING, started_s=None), set(), NOW) == "lost"
    # no participant recorded (an older server): nothing to compare, trust the server
    assert job_status(_job(RUNNING, identity=""), set(), NOW) == "running"


def test_ended_jobs_keep_the_servers_status() -> None:
    for status, name in [
        (agent.JobStatus.JS_SUCCESS, "success"),
        (agent.JobStatus.JS_FAILED, "failed"),
        (agent.JobStatus.JS_PENDING, "pending"),
    ]:
        assert job_status(_job(status), set(), NOW) == name


def test_rows_carry_worker_dispatch_and_a_one_line_error() -> None:
    dispatch = agent_dispatch.AgentDispatch(
        id="AD_1",
        state=agent_dispatch.AgentDispatchState(jobs=[_job(agent.JobStatus.JS_FAILED)]),
    )
    (row,) = jobs_of([dispatch], set(), NOW)
    assert row.worker_id == "AW_1" and row.dispatch_id == "AD_1"
    assert row.status == "failed"
    assert row.error == "agent worker left the room"
    assert row.started_at == pytest.approx(NOW - 100)
    assert jobs_of([agent_dispatch.AgentDispatch(id="AD_2")], set(), NOW)[0][:4] == (
        "",
        "",
        "unassigned",
        "AD_2",
    )


def _row(job_id: str, worker: str, status: str) -> RoomJob:
    return RoomJob(job_id, worker, status, "AD_1", "tim", "", 100.0)


def test_room_workers_look_up_each_room_once_until_its_worker_is_known() -> None:
    book = RoomWorkers(retry_s=10.0)
    rooms = ["observed", "a", "b"]
    # the observed room is listed on every refresh anyway; the others one per refresh
    assert book.next_lookup(rooms, "observed", now=0.0) == "a"
    assert book.next_lookup(rooms, "observed", now=0.0) == "b"
    assert book.next_lookup(rooms, "observed", now=1.0) is None  # both asked recently
    book.learn("a", [_row("", "", "unassigned")])  # job not listed yet: ask again later
    book.learn("b", [_row("AJ_2", "AW_2", "running")])
    assert book.next_lookup(rooms, "observed", now=10.0) == "a"
    book.learn("a", [_row("AJ_1", "AW_1", "running")])
    assert book.next_lookup(rooms, "observed", now=100.0) is None  # every worker known
    book.processes["AW_1"] = "4242@box"
    assert book.labels(rooms) == {"a": "AW_1 pid 4242@box", "b": "AW_2"}
    book.keep_only(["b"])
    assert book.labels(["a", "b"]) == {"b": "AW_2"}


def test_each_lost_job_is_reported_once() -> None:
    book = RoomWorkers()
    lost, running = _row("AJ_1", "AW_1", "lost"), _row("AJ_2", "AW_2", "running")
    assert book.newly_lost([lost, running]) == [lost]
    assert book.newly_lost([lost, running]) == []
    assert book.newly_lost([_row("AJ_3", "AW_2", "lost")]) == [_row("AJ_3", "AW_2", "lost")]


@pytest.mark.e2e
async def test_list_jobs_reports_a_dispatch_no_worker_took(
    control_plane: ControlPlane, livekit_server: LocalServer
) -> None:
    room = "jobs-unassigned-room"
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as lkapi:
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=room,
                empty_timeout=30,
                agents=[api.RoomAgentDispatch(agent_name="nobody-serves-this-name")],
            )
        )
        try:
            dispatches, jobs = await control_plane.list_jobs(room)
        finally:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
    assert [(d.agent_name, d.num_jobs) for d in dispatches] == [("nobody-serves-this-name", 0)]
    assert [(j.status, j.dispatch_id) for j in jobs] == [("unassigned", dispatches[0].dispatch_id)]


@pytest.mark.e2e
async def test_list_jobs_of_a_missing_room_is_not_found(control_plane: ControlPlane) -> None:
    with pytest.raises(ControlPlaneError) as caught:
        await control_plane.list_jobs("no-such-room-for-jobs")
    assert caught.value.kind == "not_found"
