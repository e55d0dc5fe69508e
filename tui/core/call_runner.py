"""The runner of ``dispatch-tui run``: the calls of a :class:`~tui.core.run_plan.RunPlan`,
at most ``plan.concurrency`` at once, each recorded and returned as a
:class:`~tui.core.run_plan.CallOutcome` (see :mod:`tui.core.call_placer` for one call).

The server is ``plan.settings`` (an existing server, a cluster, LiveKit Cloud), else a loopback
:class:`~tui.core.local_server.LocalServer` started for the run; the agents come from an
in-process worker (``--voice``), or with ``plan.no_worker`` from workers elsewhere. Before any
call the server must answer and the worker must register: otherwise :class:`RunSetupError`
(nothing was run). Every call's record is kept in the run store for the whole run, whatever
the retention says, so each result can point at its record.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Final, TextIO, TypeVar

from agents.constants import AGENT_NAME
from tui.core.call_placer import CallContext, CallLimits, place_call
from tui.core.control_plane import ControlPlane, ControlPlaneError
from tui.core.infra_events import (
    ServerStatus,
    ServerStatusChanged,
    VoiceConfigured,
    WorkerStatus,
    WorkerStatusChanged,
)
from tui.core.local_server import LocalServer, LocalServerError
from tui.core.record.store import Retention, RunStore, StoreError
from tui.core.room_model import RoomModel
from tui.core.run_plan import CallOutcome, PlannedCall, RunPlan, RunSetupError
from tui.core.run_progress import RunProgress
from tui.core.settings import LiveKitSettings
from tui.core.worker_runner import InProcessWorker

__all__ = ["CallLimits", "RunSetupError", "bounded", "run_calls", "run_calls_async"]

T = TypeVar("T")
R = TypeVar("R")

REGISTER_TIMEOUT_S: Final = 20.0
"""How long the in-process worker may take to register before the run gives up."""


async def bounded(
    items: Sequence[T], concurrency: int, work: Callable[[T], Awaitable[R]]
) -> list[R]:
    """``work`` on every item, at most ``concurrency`` at once, in order of ``items``
    (each started in that order); the results in the same order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    tasks = [asyncio.create_task(one(item)) for item in items]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:  # one failed: the others must not outlive the run
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Run:
    """The status every call's model starts from, kept current while the calls run."""

    def __init__(self, *, in_process_worker: bool) -> None:
        self.in_process_worker = in_process_worker
        self.status: list[ServerStatusChanged | WorkerStatusChanged | VoiceConfigured] = []
        self.models: set[RoomModel] = set()
        self._worker: WorkerStatusChanged | None = None

    def announce(self, event: ServerStatusChanged | VoiceConfigured) -> None:
        self.status.append(event)
        for model in self.models:
            model.apply(event)

    def worker_status(self, status: WorkerStatus) -> None:
        # One event, applied as is to every model: the checks date the registration by it.
        self._worker = WorkerStatusChanged(status)
        for model in self.models:
            model.apply(self._worker)

    def new_model(self, room: str) -> RoomModel:
        model = RoomModel(in_process_worker=self.in_process_worker)
        for event in self.status:
            model.apply(event)
        if self._worker is not None:
            model.apply(self._worker)
        model.reset(room, now=time.monotonic())
        self.models.add(model)
        return model

    def drop_model(self, model: RoomModel) -> None:
        self.models.discard(model)


def run_store(calls: int) -> RunStore:
    """The run store, keeping at least ``calls`` runs (a run's own records are never pruned
    by its later calls); :class:`RunSetupError` for a bad retention setting."""
    try:
        retention = Retention.from_env()
    except StoreError as exc:
        raise RunSetupError(str(exc)) from None
    return RunStore(retention=Retention(max(retention.max_runs, calls), retention.max_mb))


@contextlib.asynccontextmanager
async def _server(
    settings: LiveKitSettings | None, progress: RunProgress
) -> AsyncIterator[tuple[LiveKitSettings, bool]]:
    """The plan's server, or a loopback one for the run: (settings, local)."""
    if settings is not None:
        yield settings, False
        return
    local = LocalServer()
    try:
        await local.astart()
    except LocalServerError as exc:
        raise RunSetupError(f"local livekit-server not started: {exc}") from None
    progress.note(f"local livekit-server at {local.url}")
    try:
        yield LiveKitSettings(local.url, local.api_key, local.api_secret, "local server"), True
    finally:
        await local.astop()


@contextlib.asynccontextmanager
async def _worker(
    settings: LiveKitSettings, voice: str | None, run: _Run, concurrency: int
) -> AsyncIterator[InProcessWorker]:
    """An in-process worker, registered, closed when the run ends. It takes the ``concurrency``
    calls the run places at once (``$DISPATCH_WORKER_CAPACITY`` wins): a refused call would
    stay unassigned, and the run itself bounds what runs at once."""
    # Imported here: livekit-agents and the voices load slowly, and --no-worker skips them.
    from agents.multi_agent_worker import build_server, worker_capacity
    from agents.voices import VoiceConfigError, resolve_voice_mode

    try:
        mode = resolve_voice_mode(voice)
        server = build_server(
            voice=mode,
            ws_url=settings.url,
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            capacity=worker_capacity() or concurrency,
        )
    except VoiceConfigError as exc:
        raise RunSetupError(f"agent worker not started: {exc}") from None
    key_present = bool(os.environ.get("OPENAI_API_KEY", "").strip())
    run.announce(VoiceConfigured(mode, key_present=key_present))
    worker = InProcessWorker(server, run.worker_status, agent_name=AGENT_NAME)
    await worker.start()
    try:
        try:
            status = await worker.wait_registered(REGISTER_TIMEOUT_S)
        except TimeoutError as exc:
            raise RunSetupError(f"agent worker: {exc}") from None
        if status.state != "registered":
            raise RunSetupError(f"agent worker not registered: {status.detail or status.state}")
        yield worker
    finally:
        await worker.aclose()


async def run_calls_async(
    plan: RunPlan,
    progress: RunProgress,
    *,
    limits: CallLimits | None = None,
    store: RunStore | None = None,
    secrets: Callable[[list[str]], None] | None = None,
) -> list[CallOutcome]:
    """Place every call of ``plan``; one outcome per ``plan.calls()``, in that order.

    ``secrets`` is told the values to keep out of logs (the server's secret) once known.
    Raises :class:`RunSetupError` when no call could be placed at all.
    """
    calls = plan.calls()
    store = store or run_store(len(calls))
    run = _Run(in_process_worker=not plan.no_worker)
    async with _server(plan.settings, progress) as (settings, local):
        if secrets is not None:
            secrets([settings.api_secret])
        async with ControlPlane.from_settings(settings) as control:
            try:
                await control.list_rooms()
            except ControlPlaneError as exc:
                raise RunSetupError(str(exc)) from None
            run.announce(ServerStatusChanged(ServerStatus("ready", settings.url, local=local)))
            async with contextlib.AsyncExitStack() as stack:
                if not plan.no_worker:
                    await stack.enter_async_context(
                        _worker(settings, plan.voice, run, plan.concurrency)
                    )
                context = CallContext(
                    settings,
                    control,
                    store,
                    run.new_model,
                    run.drop_model,
                    progress,
                    limits or CallLimits(),
                    worker_elsewhere=plan.no_worker,
                )
                at_once = min(plan.concurrency, len(calls))
                progress.note(
                    f"{len(calls)} call{'s' if len(calls) != 1 else ''}, {at_once} at a time; "
                    f"records in {store.root}"
                )

                async def place(call: PlannedCall) -> CallOutcome:
                    return await place_call(call, context)

                try:
                    return await bounded(calls, plan.concurrency, place)
                finally:
                    progress.close()


def run_calls(
    plan: RunPlan,
    err: TextIO,
    *,
    limits: CallLimits | None = None,
    secrets: Callable[[list[str]], None] | None = None,
) -> list[CallOutcome]:
    """Place every call of ``plan`` (a :class:`~tui.core.run_plan.CallRunner`), with progress
    on ``err``; blocks until the last call is over. Raises :class:`RunSetupError`."""
    progress = RunProgress(err, len(plan.calls()))
    return asyncio.run(run_calls_async(plan, progress, limits=limits, secrets=secrets))
