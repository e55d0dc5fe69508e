"""Checks of the infrastructure: the server, the worker, the dispatch and the worker log."""

from __future__ import annotations

from tui.core.diagnostics.check import Check, Status, one_line
from tui.core.diagnostics.facts import Facts
from tui.core.jobs import running_job


def server(facts: Facts) -> list[Check]:
    state, detail = facts.server_state, facts.server_detail
    reach_title, cred_title = "LiveKit server reachable", "LiveKit credentials accepted"
    if state == "unknown":
        return [
            Check("server.reachable", reach_title, "pending", "not contacted yet"),
            Check("server.credentials", cred_title, "pending", "not contacted yet"),
        ]
    if state == "unreachable":
        return [
            Check(
                "server.reachable",
                reach_title,
                "fail",
                detail,
                "start livekit-server or fix LIVEKIT_URL",
            ),
            Check("server.credentials", cred_title, "pending", "unknown until the server answers"),
        ]
    reachable = Check("server.reachable", reach_title, "ok", "the server answers")
    if state == "credentials":
        return [
            reachable,
            Check(
                "server.credentials",
                cred_title,
                "fail",
                detail,
                "fix LIVEKIT_API_KEY/LIVEKIT_API_SECRET (.env or flags)",
            ),
        ]
    if state == "error":
        return [
            reachable,
            Check("server.credentials", cred_title, "warn", detail, "see the server log"),
        ]
    return [reachable, Check("server.credentials", cred_title, "ok", "API calls accepted")]


def worker(facts: Facts) -> list[Check]:
    title = "Agent worker registered"
    name = facts.serving_name()
    if not facts.in_process_worker:
        unanswered = facts.job_unanswered_for()
        if facts.agents_joined() or any(d.num_jobs for d in facts.expected()):
            check = Check(
                "worker.registered", title, "ok", f"a worker for {name!r} took this room's job"
            )
        elif unanswered is not None and unanswered > facts.t.dispatch_job_s:
            check = Check(
                "worker.registered",
                title,
                "fail",
                f"no worker for {name!r} answered the dispatch within {unanswered:.0f} s",
                "start the worker (python agents/multi_agent_worker.py dev), then "
                "re-dispatch (key d in the dashboard) or create a new room",
            )
        else:
            check = Check(
                "worker.registered",
                title,
                "pending",
                "inferred from the room's dispatch; waiting",
            )
        return [check]
    worker = facts.worker
    started = facts.worker_since
    since = 0.0 if started is None else facts.now - started
    if worker is None or worker.state == "off":
        registered = Check("worker.registered", title, "pending", "worker not started yet")
    elif worker.state == "starting":
        slow = since > facts.t.worker_start_s
        registered = Check(
            "worker.registered",
            title,
            "warn" if slow else "pending",
            f"registering with the server for {since:.0f} s",
            "check LIVEKIT_URL and the worker log" if slow else "",
        )
    elif worker.state == "registered":
        registered = Check(
            "worker.registered",
            title,
            "ok",
            f"registered as {worker.worker_id} for {worker.agent_name!r}",
        )
    elif worker.state == "reconnecting":
        registered = Check(
            "worker.registered",
            title,
            "warn",
            f"lost the server {since:.0f} s ago; reconnecting ({one_line(worker.detail)})",
            "check that livekit-server is running; the worker registers again by itself",
        )
    elif worker.state == "failed":
        registered = Check(
            "worker.registered",
            title,
            "fail",
            f"worker failed: {one_line(worker.detail)}",
            "fix the cause above and restart the dashboard",
        )
    else:
        registered = Check(
            "worker.registered", title, "fail", "the worker stopped", "restart the dashboard"
        )
    return [registered, _registered_before_room(facts)]


def _registered_before_room(facts: Facts) -> Check:
    title = "Worker registered before the room"
    created = facts.room_created_at if facts.room_info_for == facts.room else None
    registered = facts.worker_registered_at
    if facts.room and facts.agents_joined():
        return Check("worker.before_room", title, "ok", "the worker took this room's job")
    if not facts.room or created is None:
        return Check("worker.before_room", title, "pending", "room creation time unknown")
    if registered is None:
        return Check("worker.before_room", title, "pending", "worker not registered")
    if registered <= created:
        return Check("worker.before_room", title, "ok", "the worker was ready for the room")
    expected = facts.expected()
    if any(d.num_jobs for d in expected):
        return Check("worker.before_room", title, "ok", "a worker took this room's job")
    if facts.dispatch_room == facts.room:
        if not expected:
            return Check(
                "worker.before_room",
                title,
                "pending",
                f"no dispatch for {facts.serving_name()!r}",
            )
        if any(d.since > registered for d in expected):
            return Check(
                "worker.before_room",
                title,
                "pending",
                "dispatched again after the worker registered; waiting for the job",
            )
    # livekit-server never hands a dispatch made while no worker served its agent name to a
    # worker that registers later (tests/test_faults_e2e.py): only a new dispatch helps.
    return Check(
        "worker.before_room",
        title,
        "fail",
        f"the worker registered {registered - created:.0f} s after room {facts.room} was "
        "created, so its dispatch was never delivered",
        "press d to re-dispatch the room, or create a new one (dispatch-tui create-room)",
    )


def dispatch(facts: Facts) -> list[Check]:
    name = facts.serving_name()
    job_title, name_title = "Dispatch accepted", "Dispatch agent name"
    if not facts.room:
        return [
            Check("dispatch.job", job_title, "pending", "no room observed"),
            Check("dispatch.agent_name", name_title, "pending", "no room observed"),
        ]
    if facts.dispatch_room != facts.room:
        return [
            Check("dispatch.job", job_title, "pending", "dispatches not listed yet"),
            Check("dispatch.agent_name", name_title, "pending", "dispatches not listed yet"),
        ]
    others = sorted({d.agent_name for d in facts.dispatches if d.agent_name != name})
    if others:
        listed = ", ".join(repr(other) for other in others)
        name_check = Check(
            "dispatch.agent_name",
            name_title,
            "fail",
            f"room dispatches to {listed} but the worker serves {name!r}",
            f"create the room with agent name {name!r} (or set the worker's AGENT_NAME)",
        )
    elif facts.dispatches:
        name_check = Check(
            "dispatch.agent_name",
            name_title,
            "ok",
            f"dispatched to {name!r}, the worker's agent name",
        )
    else:
        name_check = Check("dispatch.agent_name", name_title, "pending", "no dispatch yet")
    expected = facts.expected()
    if not facts.dispatches:
        job = Check(
            "dispatch.job",
            job_title,
            "warn",
            "the room has no agent dispatch",
            "press d to dispatch the agents",
        )
    elif not expected:
        job = Check(
            "dispatch.job",
            job_title,
            "fail",
            f"no dispatch for {name!r}: no worker will take this room",
            "press d to dispatch the right agent",
        )
    elif (lost := facts.lost_job()) is not None:
        job = Check("dispatch.job", job_title, "fail", lost, "press d to re-dispatch")
    elif facts.agents_joined() or any(d.num_jobs for d in expected):
        jobs = sum(d.num_jobs for d in expected)
        how = f"{jobs} job(s) listed" if jobs else "agents joined"
        if (running := running_job(facts.state.jobs)) is not None:
            pid = facts.state.process_of(running)
            how += f"; worker {running.worker_id}" + (f", pid {pid}" if pid else "")
        job = Check("dispatch.job", job_title, "ok", f"job accepted ({how})")
    else:
        waited = facts.job_unanswered_for() or 0.0
        if waited > facts.t.dispatch_job_s and (full := _full_worker(facts, waited)):
            job = full
        elif waited > facts.t.dispatch_job_s:
            job = Check(
                "dispatch.job",
                job_title,
                "fail",
                f"dispatch to {name!r} created {waited:.0f} s ago but no job was accepted "
                "(no agent joined)",
                "start the worker and register it before creating the room, then press d "
                "(a running worker that is full refuses it: see its log)",
            )
        else:
            job = Check(
                "dispatch.job",
                job_title,
                "pending",
                f"waiting for a worker to accept ({waited:.1f} s)",
            )
    return [job, name_check]


def _full_worker(facts: Facts, waited: float) -> Check | None:
    """The finding for a dispatch no job took although our worker was registered before it.

    A registered worker refuses a job only when it is full (``agents.admission``), and the
    server then leaves the dispatch unassigned without retrying it.
    """
    worker, registered = facts.worker, facts.worker_registered_at
    if worker is None or worker.state != "registered" or registered is None:
        return None
    if registered > min(d.since for d in facts.expected()):
        return None  # worker.before_room explains this one
    return Check(
        "dispatch.job",
        "Dispatch accepted",
        "fail",
        f"no worker with free capacity: the dispatch to {facts.serving_name()!r} is "
        f"unassigned after {waited:.0f} s while worker {worker.worker_id} is registered",
        "the server does not offer it again: when a call ends press d, or start another "
        "worker (python agents/multi_agent_worker.py dev)",
    )


def worker_log(facts: Facts) -> Check:
    title = "Worker log free of errors"
    count, last, at = facts.log_errors, facts.log_last, facts.log_last_at
    if count == 0 or at is None:
        return Check("worker.log", title, "ok", "no errors logged")
    age = facts.now - at
    status: Status = "fail" if age <= facts.t.log_recent_s else "warn"
    return Check(
        "worker.log",
        title,
        status,
        f"{count} error(s); last {age:.0f} s ago: {last}",
        "read the log pane (press l for the level, / to search)",
    )
