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
from collections.abc import Iterable, Sequence
from typing import Final

from livekit import api
from livekit.protocol import agent, agent_dispatch

from tui.core.events import RoomJob
from tui.core.jobs import room_worker

__all__ = ["LOST_GRACE_S", "RoomJob", "RoomWorkers", "job_status", "jobs_of", "room_jobs"]

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


class RoomWorkers:
    """What the dashboard remembers of jobs across rooms: the worker of each listed room, the
    process of each worker, and which lost jobs it already reported (pure; no IO, no clock).

    The observed room's jobs are listed on every refresh; other rooms are looked up one per
    refresh (:meth:`next_lookup`), until their worker is known, so the room list can name the
    worker of every room without a call per room per refresh.
    """

    def __init__(self, retry_s: float = 10.0) -> None:
        self.retry_s = retry_s
        """A room whose job is not listed yet is looked up again after this many seconds."""
        self.workers: dict[str, str] = {}
        """Room -> id of the worker running (or that last ran) its job."""
        self.processes: dict[str, str] = {}
        """Worker id -> ``pid@host``, from the job agents' attributes."""
        self._looked_up: dict[str, float] = {}
        self._reported: set[str] = set()

    def keep_only(self, rooms: Iterable[str]) -> None:
        """Forget rooms that are gone (a room name may be reused later)."""
        names = set(rooms)
        for cache in (self.workers, self._looked_up):
            for gone in set(cache) - names:
                del cache[gone]

    def next_lookup(self, rooms: Iterable[str], observed: str, now: float) -> str | None:
        """The room to look up now (and note it as looked up), or None."""
        for room in rooms:
            if room == observed or room in self.workers:
                continue
            if now - self._looked_up.get(room, -self.retry_s) < self.retry_s:
                continue
            self._looked_up[room] = now
            return room
        return None

    def learn(self, room: str, jobs: Sequence[RoomJob]) -> None:
        """Record the worker of ``room`` from its listed jobs, if one is listed."""
        if worker := room_worker(jobs):
            self.workers[room] = worker

    def newly_lost(self, jobs: Iterable[RoomJob]) -> list[RoomJob]:
        """The lost jobs not reported before (each is returned once, ever)."""
        fresh = [j for j in jobs if j.status == "lost" and j.job_id not in self._reported]
        self._reported.update(job.job_id for job in fresh)
        return fresh

    def labels(self, rooms: Iterable[str]) -> dict[str, str]:
        """Room -> ``AW_… pid 1234@host`` (or only the worker id) for rooms with a known worker."""
        labels: dict[str, str] = {}
        for room in rooms:
            if worker := self.workers.get(room):
                process = self.processes.get(worker)
                labels[room] = f"{worker} pid {process}" if process else worker
        return labels
