"""The observed room's agent jobs: which worker (id and process) runs each, and its status."""

from __future__ import annotations

from tui.core.jobs import describe_job, jobs_health
from tui.core.state import RoomState
from tui.ui.widgets.status_bar import StatusItem


class JobsLine(StatusItem):
    """``jobs: job AJ_… running on worker AW_… (pid 1234@host)``, coloured by the jobs' health.

    The jobs come from the server (the dashboard lists them every refresh), the process from
    the job agent's attributes, so a ``--no-worker`` dashboard attached to any node of a
    cluster shows which worker process runs the call, and that a worker died (``lost``).
    """

    def show_jobs(self, state: RoomState) -> None:
        """Render the jobs of ``state``'s room (plain text: ids come from the server)."""
        self.show(*jobs_text(state))


def jobs_text(state: RoomState) -> tuple[str, str]:
    """The jobs line's text and health (``ok``, ``pending`` or ``bad``) for ``state``."""
    if not state.room:
        return "jobs: no room observed", "pending"
    if state.jobs_at is None:
        return "jobs: listing…", "pending"
    if not state.jobs:
        return "jobs: the room has no agent dispatch (press d to dispatch)", "pending"
    parts = [describe_job(job, state.process_of(job)) for job in state.jobs]
    return "jobs: " + " | ".join(parts), jobs_health(state.jobs)
