"""Helpers every test shares: waiting for a condition, and one scale for wall-clock limits.

Tests wait for what they expect with :func:`eventually` instead of sleeping or writing their own
deadline loops. Every time limit goes through :func:`scaled`: set ``DISPATCH_TEST_TIMEOUT_SCALE``
(e.g. ``3`` on a slow, shared machine) to stretch them all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import io
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from livekit import api
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from agents.scenario import Scenario
from tui.cluster.load import GOODBYE_SCRIPT, RoomWatch, scripted_scenario

T = TypeVar("T")

PROJECT = Path(__file__).resolve().parent.parent
JOB_THREAD = "job_thread_runner"
"""The name livekit-agents 1.8.9 gives the thread of a thread-executor job."""
TIMEOUT_SCALE = float(os.environ.get("DISPATCH_TEST_TIMEOUT_SCALE", "1") or "1")


def scaled(seconds: float) -> float:
    """A wall-clock limit stretched by ``DISPATCH_TEST_TIMEOUT_SCALE``."""
    return seconds * TIMEOUT_SCALE


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    timeout_s: float,
    what: str = "the condition",
    *,
    interval_s: float = 0.05,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Call ``predicate`` (sync or async) until it returns a truthy value, and return that.

    Fails naming ``what`` after ``scaled(timeout_s)``. ``pause`` waits between calls: a Pilot
    test passes ``pilot.pause`` so the app keeps running while the test waits.
    """
    limit = scaled(timeout_s)
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {limit:.1f} s waiting for {what}")
        await pause(interval_s)


async def press(pilot: Pilot[Any], *keys: str) -> None:
    """Press ``keys`` in order, as a person would, without ``Pilot.press``'s idle waits.

    ``Pilot.press`` waits twice a key for the process to go idle, up to 1 s each time; a
    process running the worker and the observer never goes idle, so every key cost 2 s of
    sleep. Here each key is posted and the screen's pending messages are handled; the test
    then waits (:func:`eventually`) for what the key does.
    """
    for key in keys:
        pilot.app.simulate_key(key)
        await pilot.pause(0.05)


def showing(app: App[Any], screen: type[Screen[Any]], selector: str | type[Widget]) -> bool:
    """``app``'s active screen is a ``screen`` with ``selector`` mounted on it: what a test waits
    for after the key that opens it (a screen is pushed before its widgets are composed)."""
    return isinstance(app.screen, screen) and bool(app.screen.query(selector))


async def create_dispatched_room(
    lkapi: api.LiveKitAPI, name: str, scenario: Scenario, agent_names: tuple[str, ...]
) -> None:
    """CreateRoom with one explicit dispatch per agent name, the scenario in both metadata."""
    metadata = scenario.to_json()
    await lkapi.room.create_room(
        api.CreateRoomRequest(
            name=name,
            metadata=metadata,
            empty_timeout=60,
            departure_timeout=5,
            agents=[api.RoomAgentDispatch(agent_name=a, metadata=metadata) for a in agent_names],
        )
    )


async def delete_room_quietly(lkapi: api.LiveKitAPI, name: str) -> None:
    """Delete a room that may already be gone."""
    with contextlib.suppress(api.TwirpError):
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))


def job_threads() -> list[threading.Thread]:
    """Threads running agent jobs (named :data:`JOB_THREAD` by the thread executor)."""
    return [t for t in threading.enumerate() if t.name == JOB_THREAD]


def pending_task_stacks(limit: int = 200) -> str:
    """Where every unfinished asyncio task of this process waits (any thread's loop): what a
    job thread that does not end is stuck on, for a failure message."""
    tasks = [obj for obj in gc.get_objects() if isinstance(obj, asyncio.Task) and not obj.done()]
    out = io.StringIO()
    for task in tasks[:limit]:
        out.write(f"--- {task.get_name()}\n")
        task.print_stack(limit=4, file=out)
    return out.getvalue()


def assert_every_line_arrived(watch: RoomWatch) -> None:
    """Each agent's final lines are its script lines in order, and the call went as scripted."""
    scenario = scripted_scenario()
    for role, persona in (("dispatcher", scenario.dispatcher), ("driver", scenario.driver)):
        expected = [text for speaker, text in GOODBYE_SCRIPT if speaker == role]
        assert watch.said_by(persona.identity) == expected, (
            f"{watch.room}: {watch.lines}; observer journal:\n" + "\n".join(watch.journal)
        )
    assert watch.call_order() == list(GOODBYE_SCRIPT), f"{watch.room}: {watch.turns}"
    assert watch.completed, f"{watch.room}: the agents did not leave after the goodbyes"
