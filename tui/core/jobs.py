"""The jobs of the observed room in words: which runs, which was lost, how healthy they are."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

from tui.core.events import RoomJob

JobsHealth: TypeAlias = Literal["ok", "pending", "bad"]


def lost_job_finding(job: RoomJob, process: str = "") -> str:
    """What happened to a lost job: ``job AJ_… on worker AW_… (pid P) lost: …``."""
    pid = f" (pid {process})" if process else ""
    return f"job {job.job_id} on worker {job.worker_id}{pid} lost: the worker stopped"


def lost_job_notice(job: RoomJob, process: str = "") -> str:
    """The one-line notice for a lost job (its worker stopped while the call ran)."""
    return f"{lost_job_finding(job, process)}; press d to re-dispatch"


def ended_jobs(jobs: Iterable[RoomJob]) -> tuple[RoomJob, ...]:
    """``jobs`` of a call that ended (its worker said so): a job the server still lists as
    running while its participant is gone is ``ended``, not lost. livekit-server 1.13.5 keeps a
    finished job ``JS_RUNNING`` as long as the room exists (measured), so without this every
    call longer than the lost grace read as lost the moment its agents left."""
    return tuple(job._replace(status="ended") if job.status == "lost" else job for job in jobs)


def running_job(jobs: Iterable[RoomJob]) -> RoomJob | None:
    """The latest running job, if any."""
    running = [job for job in jobs if job.status == "running"]
    return max(running, key=lambda job: job.started_at or 0.0) if running else None


def describe_job(job: RoomJob, process: str = "") -> str:
    """One job for the jobs line: ``job AJ_… running on worker AW_… (pid 1234@host)``."""
    if job.status == "unassigned":
        return f"dispatch {job.dispatch_id}: no job listed yet"
    if job.status == "lost":
        return lost_job_notice(job, process)
    worker = f" on worker {job.worker_id}" if job.worker_id else ""
    pid = f" (pid {process})" if process else ""
    error = f": {job.error}" if job.error else ""
    return f"job {job.job_id} {job.status}{worker}{pid}{error}"


def jobs_health(jobs: Iterable[RoomJob]) -> JobsHealth:
    """``ok`` while a job runs or after its call ended; ``bad`` when none runs and one was lost
    or failed; else ``pending`` (no job listed yet, or none at all)."""
    statuses = {job.status for job in jobs}
    if "running" in statuses or "ended" in statuses:
        return "ok"
    if statuses & {"lost", "failed"}:
        return "bad"
    return "pending"


def room_worker(jobs: Sequence[RoomJob]) -> str:
    """The worker id to show for a room: its running job's, else its latest job's, else ""."""
    with_worker = [job for job in jobs if job.worker_id]
    chosen = running_job(with_worker) or max(
        with_worker, key=lambda job: job.started_at or 0.0, default=None
    )
    return chosen.worker_id if chosen else ""
