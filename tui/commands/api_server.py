"""A small loopback HTTP API for creating rooms, as in the multi-agent guide's ``curl`` example.

``POST /api/v1/rooms/create`` takes a scenario JSON body and answers with the room name, the
dispatch id and the load id; ``GET /api/v1/rooms`` lists active rooms. Every error is a JSON
object ``{"error": "<one line>"}``. A scenario is validated completely before the control plane
is contacted, so a bad request never creates anything.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agents.scenario import MAX_FILE_BYTES, ScenarioError, parse_scenario_json
from tui.core.control_plane import ControlPlane, ControlPlaneError
from tui.core.settings import LiveKitSettings

ControlPlaneFactory = Callable[[], ControlPlane]
"""Makes a fresh (not yet entered) ControlPlane per request."""

CONTROL_PLANE_FACTORY: web.AppKey[ControlPlaneFactory] = web.AppKey("control_plane_factory")
MAX_BODY_BYTES = MAX_FILE_BYTES
"""Same limit as a scenario file: a body the file loader would refuse is refused here too."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiServerError(RuntimeError):
    """The API server cannot start (non-loopback host, port in use)."""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer aiohttp's own errors (404, 405, 413) as JSON like ours."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body too large; scenarios are at most {MAX_BODY_BYTES} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)


async def _create_room(request: web.Request) -> web.Response:
    # Requiring application/json makes a browser preflight cross-origin requests (which this
    # server never approves), so a web page cannot create rooms through a local port.
    if request.content_type != "application/json":
        return _error(415, "send the scenario with Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, f"request body too large; scenarios are at most {MAX_BODY_BYTES} bytes")
    body = await request.read()  # client_max_size turns an oversized chunked body into 413
    try:
        scenario = parse_scenario_json(body, "request body")
    except ScenarioError as exc:
        return _error(400, str(exc))
    try:
        async with request.app[CONTROL_PLANE_FACTORY]() as control_plane:
            created = await control_plane.create_room(scenario)
    except ControlPlaneError as exc:
        return _error(502, str(exc))
    return web.json_response(
        {"room_name": created.name, "dispatch_id": created.dispatch_id, "load_id": scenario.load_id}
    )


async def _list_rooms(request: web.Request) -> web.Response:
    try:
        async with request.app[CONTROL_PLANE_FACTORY]() as control_plane:
            rooms = await control_plane.list_rooms()
    except ControlPlaneError as exc:
        return _error(502, str(exc))
    payload: list[dict[str, Any]] = [
        {
            "name": room.name,
            "sid": room.sid,
            "num_participants": room.num_participants,
            "created_at": room.created_at.isoformat() if room.created_at else None,
            "load_id": room.load_id,
        }
        for room in rooms
    ]
    return web.json_response({"rooms": payload})


def make_app(control_plane_factory: ControlPlaneFactory) -> web.Application:
    """The aiohttp application; ``control_plane_factory`` makes one ControlPlane per request."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_json_errors])
    app[CONTROL_PLANE_FACTORY] = control_plane_factory
    app.router.add_post("/api/v1/rooms/create", _create_room)
    app.router.add_get("/api/v1/rooms", _list_rooms)
    return app


async def serve(
    settings: LiveKitSettings,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the API on a loopback address until cancelled.

    ``on_ready`` receives the listening URL once the socket is bound. Raises ApiServerError
    for a non-loopback host or a port that cannot be bound.
    """
    if not is_loopback_host(host):
        # The API creates rooms with the server's credentials and has no authentication.
        raise ApiServerError(
            f"refusing to listen on {host}: the API has no authentication; use 127.0.0.1"
        )
    app = make_app(lambda: ControlPlane.from_settings(settings))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ApiServerError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
            ) from None
        if on_ready is not None:
            bound_port = runner.addresses[0][1] if runner.addresses else port  # for port 0
            shown = f"[{host}]" if ":" in host else host
            on_ready(f"http://{shown}:{bound_port}")
        await asyncio.Event().wait()  # until cancelled (Ctrl-C cancels the main task)
    finally:
        await runner.cleanup()
