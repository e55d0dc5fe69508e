"""Which worker runs each agent job of a room, from the server API alone.

The dashboard with ``--no-worker`` owns no worker, so it learns about jobs from the server:
``ListDispatch`` returns every ``AgentDispatch`` of a room, and ``dispatch.state.jobs[]`` holds
each job with ``state.status``, ``state.worker_id`` (the id the server gave the worker when it
registered, e.g. ``AW_…``), ``state.participant_identity`` (the job participant, Tim) and
``state.started_at`` (epoch ns). This works through any node of a cluster: the dispatch state
is shared through Redis.

Facts measured on livekit-server v1.13.5 with two nodes (tests/test_cluster.py):

- A worker process that dies (SIGKILL) is *not* reported: its job stays ``JS_RUNNING`` for as
  long as the room exists. The agents' participants vanish about 20 s later, when the server
  gives up on their connections. So a running job whose participant is gone is reported here
  as ``lost``; a job only reaches ``JS_FAILED`` when the room is deleted or the worker
  disconnects cleanly.
- A dispatch that found no worker (for example every worker reported a load at or above the
  server's target load, 0.7) has no job at all, and nothing retries it: it is reported as one
  ``unassigned`` entry. The same entry shows for the first seconds of every room: a job is
  recorded in the dispatch state a few seconds after it started, often after both agents are
  already talking. Only an ``unassigned`` row that persists (past ~10 s) is a dropped dispatch.
"""

from __future__ import annotations

import time
from typing import Final, NamedTuple

from livekit import api
from livekit.protocol import agent, agent_dispatch

LOST_GRACE_S: Final = 30.0
"""A running job's participant may take this long to join (the job process starts, connects)
before its absence counts as a lost job. Generous: a busy machine starts job processes slowly."""

_STATUS: Final[dict[int, str]] = {
    agent.JobStatus.JS_PENDING: "pending",
    agent.JobStatus.JS_RUNNING: "running",
    agent.JobStatus.JS_SUCCESS: "success",
    agent.JobStatus.JS_FAILED: "failed",
    agent.JobStatus.JS_CANCELLED: "cancelled",
}


class RoomJob(NamedTuple):
    """One agent job of a room; unpacks as ``(job_id, worker_id, status, ...)``.

    ``status`` is ``pending``, ``running``, ``success``, ``failed``, ``cancelled``, ``lost``
    (running per the server, but its participant left the room: the worker died) or
    ``unassigned`` (a dispatch no worker took; ``job_id`` and ``worker_id`` are empty).
    """

    job_id: str
    worker_id: str
    status: str
    dispatch_id: str
    participant_identity: str
    error: str
    started_at: float | None
    """Epoch seconds, or None when the server has not recorded a start."""


def job_status(
    job: agent.Job, present: set[str], now: float | None = None, grace_s: float = LOST_GRACE_S
) -> str:
    """The status of one job, given the identities currently in its room."""
    state = job.state
    status = _STATUS.get(state.status, str(state.status))
    if status != "running" or not state.participant_identity:
        return status
    if state.participant_identity in present:
        return "running"
    started = state.started_at / 1e9 if state.started_at else None
    current = time.time() if now is None else now
    if started is not None and current - started < grace_s:
        return "running"  # still joining
    return "lost"


def jobs_of(
    dispatches: list[agent_dispatch.AgentDispatch],
    present: set[str],
    now: float | None = None,
    grace_s: float = LOST_GRACE_S,
) -> list[RoomJob]:
    """Plain rows for the dispatches of one room (pure: testable without a server)."""
    rows: list[RoomJob] = []
    for dispatch in dispatches:
        if not dispatch.state.jobs:
            rows.append(RoomJob("", "", "unassigned", dispatch.id, "", "", None))
            continue
        for job in dispatch.state.jobs:
            state = job.state
            rows.append(
                RoomJob(
                    job_id=job.id,
                    worker_id=state.worker_id,
                    status=job_status(job, present, now, grace_s),
                    dispatch_id=dispatch.id,
                    participant_identity=state.participant_identity,
                    error=" ".join(state.error.split()),
                    started_at=state.started_at / 1e9 if state.started_at else None,
                )
            )
    return rows


async def room_jobs(lkapi: api.LiveKitAPI, room: str) -> list[RoomJob]:
    """The agent jobs of ``room`` with the worker that runs each, through any cluster node.

    Raises what the API calls raise (``api.TwirpError``, aiohttp errors): call it inside the
    control plane's error guard. Two calls: the room's participants (to tell a lost job from a
    running one), then its dispatches.
    """
    reply = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    present = {participant.identity for participant in reply.participants}
    dispatches = await lkapi.agent_dispatch.list_dispatch(room)
    return jobs_of(list(dispatches), present)
