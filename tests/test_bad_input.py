"""Hostile and broken scenarios through every entry point, and property tests of the loader and
the state model.

Each bad scenario goes through the three ways a scenario enters the system: the file loader
(the dashboard's picker), ``dispatch-tui create-room`` and ``POST /api/v1/rooms/create``. Each
must be refused with one printable line that names the problem, and nothing may be created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import math
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit import api
from reliability_support import HDX

from agents.scenario import (
    IDENTITY_PATTERN,
    LOAD_ID_PATTERN,
    MAX_FILE_BYTES,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    parse_scenario_json,
    scenario_from_metadata,
)
from tui.commands.api_server import make_app
from tui.commands.cli import run_cli
from tui.core.control_plane import ControlPlane
from tui.core.events import ParticipantJoined, TranscriptSegment
from tui.core.local_server import LocalServer
from tui.core.state import RoomState

CREATE = "/api/v1/rooms/create"
JSON_HEADERS = {"Content-Type": "application/json"}
TEN_MB = 10 * 1024 * 1024


def hdx() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HDX.read_text(encoding="utf-8"))
    return data


def with_changes(**changes: Any) -> bytes:
    """The shipped scenario with top-level fields replaced (dotted keys reach one level in)."""
    data = hdx()
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    return json.dumps(data).encode()


KDC = HDX.parent / "kdc-3107.json"


def with_agent_list(mutate: Callable[[dict[str, Any]], object]) -> bytes:
    """The bundled three-agent scenario, changed by ``mutate``."""
    data: dict[str, Any] = json.loads(KDC.read_text(encoding="utf-8"))
    mutate(data)
    return json.dumps(data).encode()


def huge_scenario() -> bytes:
    """10 MB of otherwise valid scenario: one enormous situation text."""
    data = hdx()
    data["situation"] = "x" * TEN_MB
    return json.dumps(data).encode()


# (id, file bytes, fragment of the loader's message, HTTP status, fragment of the HTTP message)
BAD: list[tuple[str, bytes, str, int, str]] = [
    ("malformed", b'{"load_id": "HDX-1", ', "invalid JSON", 400, "invalid JSON"),
    (
        "truncated",
        HDX.read_bytes()[: len(HDX.read_bytes()) // 2],
        "invalid JSON",
        400,
        "invalid JSON",
    ),
    ("empty", b"", "invalid JSON", 400, "invalid JSON"),
    ("huge 10 MB", huge_scenario(), f"at most {MAX_FILE_BYTES}", 413, "too large"),
    ("not utf-8", b'{"title": "\xff\xfe"}', "not UTF-8", 400, "not UTF-8"),
    ("not an object", b'"just a string"', "(top level)", 400, "(top level)"),
    ("deep nesting", b"[" * 50_000 + b"]" * 50_000, "nested", 400, "nested"),
    ("max_turns text", with_changes(max_turns="eight"), "'max_turns'", 400, "'max_turns'"),
    (
        "max_turns NaN",
        HDX.read_bytes().replace(b'"max_turns": 8', b'"max_turns": NaN'),
        "'max_turns'",
        400,
        "'max_turns'",
    ),
    (
        "temperature Infinity",
        HDX.read_bytes().replace(b'"temperature": 0.8', b'"temperature": Infinity'),
        "'dispatcher.temperature'",
        400,
        "'dispatcher.temperature'",
    ),
    ("max_turns huge int", with_changes(max_turns=10**400), "'max_turns'", 400, "'max_turns'"),
    ("persona as list", with_changes(dispatcher=["Tim"]), "'dispatcher'", 400, "'dispatcher'"),
    ("script as object", with_changes(script={"speaker": "driver"}), "'script'", 400, "'script'"),
    (
        "name with escape codes",
        with_changes(dispatcher__name="Tim\x1b[2J\x1b[31m"),
        "control characters",
        400,
        "control characters",
    ),
    (
        "name with NUL",
        with_changes(driver__name="Chris\x00"),
        "control characters",
        400,
        "control characters",
    ),
    (
        "name with bidi override",
        with_changes(driver__name="Chris\u202eevil"),
        "control characters",
        400,
        "control characters",
    ),
    (
        "title with carriage return",
        with_changes(title="Load\rHIJACKED"),
        "control characters",
        400,
        "control characters",
    ),
    (
        "load id path traversal",
        with_changes(load_id="../../etc/passwd"),
        "'load_id'",
        400,
        "'load_id'",
    ),
    ("load id with slash", with_changes(load_id="HDX/2478"), "'load_id'", 400, "'load_id'"),
    ("load id dot dot", with_changes(load_id=".."), "'load_id'", 400, "'load_id'"),
    ("load id windows path", with_changes(load_id="C:\\HDX"), "'load_id'", 400, "'load_id'"),
    ("load id with markup", with_changes(load_id="[b]HDX[/b]"), "'load_id'", 400, "'load_id'"),
    (
        "identity path-like",
        with_changes(dispatcher__identity="../tim"),
        "'dispatcher.identity'",
        400,
        "'dispatcher.identity'",
    ),
    (
        "contract with a broken pattern",
        with_changes(expect={"transcript": {"driver": {"must_match": ["(34"]}}}),
        "'expect.transcript.driver.must_match[0]'",
        400,
        "'expect.transcript.driver.must_match[0]'",
    ),
    (
        "contract for an unknown role",
        with_changes(expect={"turns": {"boss": {"min": 1}}}),
        "'expect.turns.boss'",
        400,
        "'expect.turns.boss'",
    ),
    (
        "unknown field with escape",
        HDX.read_bytes().replace(b'"title"', b'"ti\\u001btle"'),
        "no such field",
        400,
        "no such field",
    ),
]
AGENT_LISTS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("one agent", lambda d: d.update(agents=d["agents"][:1]), "'agents'"),
    ("seven agents", lambda d: d["agents"].extend([d["agents"][2]] * 4), "'agents'"),
    ("shared identity", lambda d: d["agents"][2].update(identity="driver-chris"), "'agents[2]."),
    ("role with markup", lambda d: d["agents"][2].update(role="[b]x[/b]"), "'agents[2].role'"),
    ("line of no agent", lambda d: d["script"][2].update(speaker="shipper"), "'script[2]."),
]
BAD += [(name, with_agent_list(change), at, 400, at) for name, change, at in AGENT_LISTS]
IDS = [case[0] for case in BAD]


def one_printable_line(text: str) -> str:
    """The single line of an error; a newline or control character would let a scenario forge
    output lines or drive the terminal when the message is printed."""
    stripped = text.rstrip("\n")
    assert stripped and "\n" not in stripped and "\r" not in stripped, repr(text)
    assert stripped.isprintable(), repr(stripped)
    return stripped


def room_names(server: LocalServer) -> set[str]:
    """Rooms on the server, fetched on a thread of its own (the tests' loop may be running)."""

    async def fetch() -> set[str]:
        async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
            reply = await lkapi.room.list_rooms(api.ListRoomsRequest())
        return {room.name for room in reply.rooms}

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch()).result(timeout=10)


@pytest.mark.parametrize(("name", "body", "fragment", "status", "http_fragment"), BAD, ids=IDS)
def test_loader_refuses_with_one_line(
    tmp_path: Path, name: str, body: bytes, fragment: str, status: int, http_fragment: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(body)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = one_printable_line(str(caught.value))
    assert message.startswith(str(path)) and fragment in message, message


@pytest.mark.parametrize(("name", "body", "fragment", "status", "http_fragment"), BAD, ids=IDS)
def test_cli_create_room_refuses_and_creates_nothing(
    livekit_server: LocalServer,
    tmp_path: Path,
    name: str,
    body: bytes,
    fragment: str,
    status: int,
    http_fragment: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(body)
    environ = {
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": livekit_server.api_key,
        "LIVEKIT_API_SECRET": livekit_server.api_secret,
    }
    before = room_names(livekit_server)
    out, err = io.StringIO(), io.StringIO()
    with ThreadPoolExecutor(1) as pool:  # run_cli calls asyncio.run: keep it off any loop
        code = pool.submit(
            run_cli, ["create-room", str(path)], environ=environ, stdout=out, stderr=err
        ).result(timeout=30)
    assert code == 2, err.getvalue()
    assert out.getvalue() == ""
    message = one_printable_line(err.getvalue())
    assert fragment in message, message
    assert room_names(livekit_server) == before


@pytest.fixture
async def client(livekit_server: LocalServer) -> AsyncIterator[TestClient[Any, Any]]:
    app = make_app(
        lambda: ControlPlane(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)
    )
    test_client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()


@pytest.mark.parametrize(("name", "body", "fragment", "status", "http_fragment"), BAD, ids=IDS)
async def test_http_route_refuses_and_creates_nothing(
    client: TestClient[Any, Any],
    livekit_server: LocalServer,
    name: str,
    body: bytes,
    fragment: str,
    status: int,
    http_fragment: str,
) -> None:
    before = await asyncio.to_thread(room_names, livekit_server)
    response = await client.post(CREATE, data=body, headers=JSON_HEADERS)
    assert response.status == status, await response.text()
    payload = await response.json()
    assert set(payload) == {"error"}
    message = one_printable_line(payload["error"])
    assert http_fragment in message, message
    assert await asyncio.to_thread(room_names, livekit_server) == before


async def test_markup_in_names_is_accepted_and_kept_verbatim_end_to_end(
    client: TestClient[Any, Any], livekit_server: LocalServer
) -> None:
    """Markup is ordinary text: accepted, stored and read back byte for byte (the widgets
    render it as plain text; that part is the app's tests)."""
    name = "[bold red]Tim[/] [link=file:///etc/passwd]x[/link] <b>&amp;"
    body = with_changes(dispatcher__name=name, title="[blink]Hot[/blink]")
    response = await client.post(CREATE, data=body, headers=JSON_HEADERS)
    assert response.status == 200, await response.text()
    room = (await response.json())["room_name"]
    async with api.LiveKitAPI(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret
    ) as lkapi:
        reply = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
    stored = scenario_from_metadata(reply.rooms[0].metadata)
    assert stored.dispatcher.name == name
    assert stored.title == "[blink]Hot[/blink]"


# --- property tests: the scenario loader ------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
FIELDS = [
    "load_id",
    "title",
    "dispatcher",
    "driver",
    "pickup",
    "delivery",
    "situation",
    "max_turns",
    "script",
    "model",
    "agents",
    "turn_order",
    "expect",
]
PERSONA_FIELDS = ["name", "identity", "voice", "temperature", "model"]


def check_refusal(error: ScenarioError) -> None:
    one_printable_line(str(error))


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_is_a_scenario_or_a_scenario_error(value: object) -> None:
    try:
        parse_scenario(value, "prop")
    except ScenarioError as error:
        check_refusal(error)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(FIELDS) | st.text(max_size=10),
            st.sampled_from(PERSONA_FIELDS) | st.none(),
            JSON_VALUES,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_valid_scenario_with_any_field_replaced_never_raises_anything_else(
    changes: list[tuple[str, str | None, object]],
) -> None:
    """Near-valid input reaches the deep checks that random values rarely get past."""
    data = hdx()
    for key, inner, value in changes:
        if inner is not None and isinstance(data.get(key), dict):
            data[key][inner] = value
        else:
            data[key] = value
    try:
        scenario = parse_scenario(data, "prop")
    except ScenarioError as error:
        check_refusal(error)
        return
    assert scenario_from_metadata(scenario.to_json()).load_id == scenario.load_id


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_scenario_or_a_scenario_error(raw: bytes) -> None:
    try:
        parse_scenario_json(raw, "prop")
    except ScenarioError as error:
        check_refusal(error)


def clean_text(max_size: int) -> st.SearchStrategy[str]:
    """Text the loader keeps as is: printable (newlines allowed), not blank, no outer spaces."""
    return (
        st.text(
            st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co")) | st.just("\n"),
            min_size=1,
            max_size=max_size,
        )
        .map(str.strip)
        .filter(bool)
    )


@st.composite
def valid_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    identities = draw(
        st.lists(
            st.from_regex(IDENTITY_PATTERN, fullmatch=True), min_size=2, max_size=2, unique=True
        )
    )

    def persona(identity: str) -> dict[str, Any]:
        return {
            "name": draw(clean_text(64)),
            "identity": identity,
            "voice": draw(clean_text(32)),
            "temperature": draw(st.floats(min_value=0.6, max_value=1.2)),
        }

    data: dict[str, Any] = {
        "load_id": draw(st.from_regex(LOAD_ID_PATTERN, fullmatch=True)),
        "title": draw(clean_text(120)),
        "dispatcher": persona(identities[0]),
        "driver": persona(identities[1]),
        "pickup": {"location": draw(clean_text(200))},
        "delivery": {"location": draw(clean_text(200)), "time": draw(clean_text(100))},
        "situation": draw(clean_text(300)),
        "max_turns": draw(st.integers(2, 40)),
    }
    if draw(st.booleans()):
        count = draw(st.integers(1, 6))
        data["script"] = [
            {"speaker": "dispatcher" if i % 2 == 0 else "driver", "text": draw(clean_text(80))}
            for i in range(count)
        ]
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios())
def test_valid_scenarios_round_trip_through_room_metadata(data: dict[str, Any]) -> None:
    scenario = parse_scenario(data, "prop")
    again = scenario_from_metadata(scenario.to_json())
    assert dataclasses.replace(again, source=scenario.source) == scenario
    assert isinstance(again, Scenario)
    assert math.isfinite(again.dispatcher.temperature)


# --- property tests: the state model keeps foreign text verbatim ------------------------------

MARKUP_TEXT = st.text(max_size=40) | st.sampled_from(
    ["[bold]Tim[/]", "[/]", "[link=https://example.com]x[/link]", "\x1b[31mred", "[@click=quit]"]
)


@settings(max_examples=200, deadline=None)
@given(identity=st.text(min_size=1, max_size=30), name=MARKUP_TEXT, text=MARKUP_TEXT)
def test_state_keeps_names_and_transcripts_verbatim(identity: str, name: str, text: str) -> None:
    state = RoomState("room")
    state.apply(ParticipantJoined("room", identity, name=name, kind="agent", at=1.0))
    state.apply(TranscriptSegment("room", identity, "SG_1", text, final=True, at=2.0))
    view = state.get(identity)
    assert view is not None
    assert view.name == name
    assert [line.text for line in view.lines()] == [text]
    assert [line.text for line in state.transcript] == [text]
