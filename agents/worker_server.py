"""The worker's server: an ``AgentServer`` that accepts dispatches as the first agent (Tim) and
runs each call.

``build_server()`` assembles it (voice, credentials, executor, load); ``handle_request`` accepts
each dispatch; the load functions decide when livekit-server may send this worker another call.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import threading
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from livekit.agents import AgentServer, JobExecutorType, JobRequest

from agents.admission import STARTING_WEIGHT, Admission, LoopLag, calibrated_capacity
from agents.call_job import entrypoint
from agents.compat import (
    ensure_rtc_client,
    on_job_launched,
    skip_local_inference_preload,
    warn_on_version_drift,
)
from agents.constants import (
    AGENT_NAME,
    ROLE_ATTRIBUTE,
    WORKER_HOST_ATTRIBUTE,
    WORKER_ID_ATTRIBUTE,
    WORKER_PID_ATTRIBUTE,
)
from agents.scenario_source import default_scenario, scenario_for_job
from agents.voices import VoiceConfigError, build_realtime_model, resolve_voice_mode
from agents.worker_config import WorkerConfig


async def handle_request(
    req: JobRequest,
    *,
    worker_id: Callable[[], str] | None = None,
    admit: Callable[[str], bool] | None = None,
) -> None:
    """Accept a dispatch as the scenario's first agent (Tim unless the scenario says
    otherwise), with its identity, name and role.

    ``worker_id()`` is the id the server gave this worker when it registered: the same value
    the job's ``JobContext.worker_id`` will carry, read here so that the first agent joins with it.
    ``admit(job_id)`` (:meth:`Admission.try_admit`) False refuses the call without ending it:
    the server offers it to another worker.
    """
    if admit is not None and not admit(req.id):
        await req.reject(terminate=False)
        return
    scenario = scenario_for_job(req.job.metadata, req.room.metadata)
    first = scenario.agents[0]
    # The worker's process, host and server-side id, so a dashboard can say which worker runs
    # the call and tie the server's job list (worker ids only) to a process.
    attributes = {
        ROLE_ATTRIBUTE: first.role,
        WORKER_PID_ATTRIBUTE: str(os.getpid()),
        WORKER_HOST_ATTRIBUTE: socket.gethostname(),
    }
    if worker_id is not None:
        attributes[WORKER_ID_ATTRIBUTE] = worker_id()
    await req.accept(identity=first.identity, name=first.name, attributes=attributes)


def job_count_load(capacity: int) -> Callable[[AgentServer], float]:
    """A load function counting calls instead of CPU.

    livekit-server only sends a job to workers reporting a load under its own target (0.7),
    whatever the worker's ``load_threshold``; the default load is the whole machine's CPU, so a
    busy development machine (or several workers on one machine) silently stops getting jobs.
    """

    def load(server: AgentServer) -> float:
        return min(1.0, len(server.active_jobs) / capacity)

    return load


WARM_JOB_PROCESSES = 2
"""Job processes a process worker keeps started and idle. A burst is admitted two or three
calls at once (:mod:`agents.admission`); with one warm process the second call of a cluster
worker waited 0.4-0.7 s for a process to start on a busy 2-core machine. An idle process
holds 12 MB of its own (94 MB resident, the rest shared with the fork server that forks it)."""


def admission_load(admission: Admission) -> Callable[[AgentServer], float]:
    """The load function reporting ``admission``'s load (see :meth:`Admission.load`)."""

    def load(server: AgentServer) -> float:
        return admission.load(server)

    return load


def _positive_count(name: str, meaning: str, env: Mapping[str, str] | None) -> int | None:
    """``$name`` as a positive whole number, None when unset; a one-line error otherwise."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise VoiceConfigError(
            f"{name}={raw!r} is not a positive whole number: set it to {meaning}, or unset it"
        )
    return int(raw)


def worker_capacity(env: Mapping[str, str] | None = None) -> int | None:
    """``$DISPATCH_WORKER_CAPACITY`` (calls per worker), or None to use the CPU-based load."""
    return _positive_count("DISPATCH_WORKER_CAPACITY", "the calls one worker may run at once", env)


def workers_on_machine(env: Mapping[str, str] | None = None) -> int:
    """``$DISPATCH_WORKERS_ON_MACHINE``: how many workers share this machine's cores (1 if unset).

    Each worker measures the whole machine; workers started side by side (the local cluster)
    would each claim all of it and together take more calls than it runs in real time."""
    sharing = _positive_count(
        "DISPATCH_WORKERS_ON_MACHINE", "the workers started on this machine", env
    )
    return sharing or 1


def measured_admission(lag: LoopLag, *, sharing: int = 1) -> Admission:
    """Admission by what this machine runs in real time: :func:`calibrated_capacity`, starting
    calls counting ``STARTING_WEIGHT``, and refusal while ``lag`` (the worker's loop; an
    in-process worker's is also the dashboard's, which lags only when the whole process is
    short of CPU) is late. ``sharing`` workers on this machine split its cores."""
    measured: Future[int] = Future()
    cores = (os.cpu_count() or 1) / sharing

    def measure() -> None:
        try:
            measured.set_result(calibrated_capacity(cores=cores))
        except BaseException as exc:  # surfaces at the first job request
            measured.set_exception(exc)

    # about half a second of timing: beside the start-up, not before the registration
    threading.Thread(target=measure, name="capacity-calibration", daemon=True).start()
    return Admission(measured.result, lag=lag.lag_s, starting_weight=STARTING_WEIGHT)


_LOOP_LAGS: weakref.WeakKeyDictionary[AgentServer, LoopLag] = weakref.WeakKeyDictionary()
"""The loop-lag sampler of each built server: a task on the loop that ran its first request."""


def release_admission(server: AgentServer) -> None:
    """Stop ``server``'s loop-lag sampler, after ``server.aclose()``: an in-process worker's loop
    is the dashboard's, and goes on without it."""
    lag = _LOOP_LAGS.pop(server, None)
    if lag is not None:
        lag.stop()


def start_rtc_runtime() -> None:
    """Create this process's livekit-rtc FFI client now, on this thread, before any job thread.

    livekit rtc 1.1.21 creates it on first use without a lock (``FfiClient.instance``). Calls
    dispatched at once to a fresh thread-executor worker could each create one; the native
    runtime then delivers every event to the last one, so a room that connected through an
    earlier one never heard its ConnectCallback, and 15 s later the FFI panicked and SIGTERMed
    the whole process (1 fresh worker in 2 died on 5 simultaneous calls). Process executors
    must not do this: the client cannot cross a fork, and their job processes run one job.
    """
    ensure_rtc_client()


def build_server(
    *,
    voice: str | None = None,
    ws_url: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    executor: JobExecutorType = JobExecutorType.THREAD,
    host: str = "127.0.0.1",
    port: int = 0,
    capacity: int | None = None,
) -> AgentServer:
    """An ``AgentServer`` running the multi-agent job for ``AGENT_NAME`` dispatches.

    ``voice`` is ``realtime`` or ``offline``; None reads ``DISPATCH_VOICE`` and otherwise picks
    realtime when ``OPENAI_API_KEY`` is set. Raises VoiceConfigError (one-line message) for an
    unknown voice or realtime without a key. Credentials default to ``LIVEKIT_URL``,
    ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET``, in development as in production: the
    load shedding is the worker's own admission, not the SDK's. The health endpoint listens on
    ``host``:``port`` (loopback, a free port). Each agent publishes its session events on its
    own participant (:mod:`agents.session_wire`): observers read them from the room.
    ``capacity`` (else ``$DISPATCH_WORKER_CAPACITY``) is the calls the worker takes at once:
    it refuses more (:mod:`agents.admission`), and a process worker also refuses while its
    event loop lags. Without either, the capacity is measured (:func:`measured_admission`), for
    in-process and process workers alike, on this worker's share of the cores
    (:func:`workers_on_machine`). The reported load is the share of capacity in use.
    """
    warn_on_version_drift()
    # before the first job: the SDK's warm-up would load models no session here uses
    skip_local_inference_preload()
    mode = resolve_voice_mode(voice)
    capacity = capacity or worker_capacity()
    sharing = workers_on_machine()
    sampler = LoopLag()
    lag: LoopLag | None = sampler
    if capacity is None:
        admission = measured_admission(sampler, sharing=sharing)
    elif executor == JobExecutorType.THREAD:
        # An explicit count: an in-process worker runs that many (tests, `dispatch-tui run
        # --concurrency`); its loop is the dashboard's too, so its lag refuses nothing then.
        admission, lag = Admission(capacity), None
    else:
        admission = Admission(capacity, lag=sampler.lag_s)
    if mode == "realtime":
        # fail here, once and clearly, rather than in every job
        build_realtime_model(default_scenario().agents[0])
    if executor == JobExecutorType.THREAD:
        start_rtc_runtime()
    config = WorkerConfig(
        voice=mode,
        ws_url=ws_url or "",
        api_key=api_key or "",
        api_secret=api_secret or "",
    )
    server = AgentServer(
        job_executor_type=executor,
        ws_url=ws_url,
        api_key=api_key,
        api_secret=api_secret,
        host=host,
        port=port,
        # threads are started per job; an idle one waiting would outlive every call
        num_idle_processes=0 if executor == JobExecutorType.THREAD else WARM_JOB_PROCESSES,
        # the SDK's own check would refuse a second simultaneous call to an idle worker
        # (it guesses a job's load as the whole threshold): admission decides instead
        load_threshold=math.inf,
        load_fnc=admission_load(admission),
    )

    if lag is not None:
        _LOOP_LAGS[server] = lag
    hooked: list[bool] = []

    def admit(job_id: str) -> bool:
        if not hooked:  # on the worker's loop, which runs this request handler
            hooked.append(True)
            on_job_launched(server, admission.launched)
            if lag is not None:
                lag.start()
        return admission.try_admit(server, job_id)

    server.rtc_session(
        functools.partial(entrypoint, config=config),
        agent_name=AGENT_NAME,
        on_request=functools.partial(handle_request, worker_id=lambda: server.id, admit=admit),
    )
    return server
