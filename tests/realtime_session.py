"""One WebSocket session of the realtime stand-in (see ``tests/realtime_standin.py``).

Server events follow OpenAI's Realtime API (GA) in the order livekit-plugins-openai 1.8.9
expects them (its ``realtime`` module lists it): ``response.created``,
``response.output_item.added``, ``conversation.item.added``, ``response.content_part.added``,
transcript and audio deltas, their ``done`` events, ``response.output_item.done`` and
``response.done``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import TYPE_CHECKING, Any, Final

from aiohttp import WSMsgType, web
from realtime_wire import (
    CHUNK_S,
    LEAD_S,
    SAMPLE_RATE,
    merge,
    new_id,
    rate_limit_details,
    speech,
    usage,
)

from agents.espeak_tts import EspeakVoice
from agents.scenario import Persona
from agents.voices import offline_voice

if TYPE_CHECKING:
    from realtime_standin import RealtimeStandIn

KEY_REJECTED_CLOSE: Final = 3000


class StandInSession:
    """The server side of one client connection."""

    def __init__(
        self,
        stand_in: RealtimeStandIn,
        ws: web.WebSocketResponse,
        request: web.Request,
        connection: int,
        model: str,
    ) -> None:
        self.stand_in = stand_in
        self.ws = ws
        self.request = request
        self.connection = connection
        self.config: dict[str, Any] = {
            "type": "realtime",
            "object": "realtime.session",
            "id": new_id("sess"),
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "audio": {"output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}}},
        }
        self.voice = ""
        """Known from the first ``session.update`` that names one."""
        self.persona: Persona | None = None
        self.said = 0
        self.items: list[str] = []
        """The conversation's item ids, in order."""
        self.own: set[str] = set()
        """The assistant items among them, replayed ones included: the persona's lines already
        said, whoever else speaks in the call, so they say which script line is due and a
        reconnected session goes on where the call is, as a model would."""
        self.taken_over: int | None = None
        """Lines the voice's connection dropped by ``socket_closed`` had said, the cut one
        included; None once this connection's first line is chosen."""
        self.lost = 0
        """Of those, the ones the client did not replay here (the plugin replays no line cut
        short): still said, as far as the call is concerned."""
        self.response: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        await self.send("session.created", session=self.config)
        try:
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    event = json.loads(message.data)
                except ValueError:
                    await self.error("invalid_request_error", "invalid_json", "Invalid JSON.")
                    continue
                self.stand_in.log(
                    {"connection": self.connection, "voice": self.voice, "event": event}
                )
                await self.handle(event)
        finally:
            if self.response is not None:
                self.response.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await self.response

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_str(json.dumps({"type": kind, "event_id": new_id("event"), **fields}))

    async def error(
        self, kind: str, code: str | None, message: str, event_id: str | None = None
    ) -> None:
        error = {"type": kind, "code": code, "message": message, "param": None}
        await self.send("error", error={**error, "event_id": event_id})

    # ------------------------------------------------------------------ client events

    async def handle(self, event: dict[str, Any]) -> None:
        kind, event_id = event.get("type"), event.get("event_id")
        if kind == "session.update":
            await self.update_session(event.get("session") or {})
        elif kind == "conversation.item.create":
            await self.create_item(event)
        elif kind == "conversation.item.delete":
            await self.delete_item(event)
        elif kind == "conversation.item.truncate":
            await self.send("conversation.item.truncated", **_fields(event, "item_id"))
        elif kind == "response.create":
            await self.create_response(event)
        elif kind == "response.cancel":
            await self.cancel_response(event_id)
        elif kind in ("input_audio_buffer.append", "input_audio_buffer.commit"):
            pass  # audio input is off in dispatch-tui; nothing is transcribed
        elif kind == "input_audio_buffer.clear":
            await self.send("input_audio_buffer.cleared")
        else:
            message = f"Invalid value: '{kind}'. Supported values are the client event types."
            await self.error("invalid_request_error", "invalid_value", message, event_id)

    async def update_session(self, update: dict[str, Any]) -> None:
        merge(self.config, update)
        voice = self.config.get("audio", {}).get("output", {}).get("voice", "")
        if not self.voice and update.get("audio", {}).get("output", {}).get("voice"):
            self.voice = voice
            self.taken_over = self.stand_in.cut_short.pop(voice, 0)
            if self.stand_in.fault_for("key_rejected", voice) is not None:
                await self.reject_key()
                return
        self.persona = self.persona_for(str(self.config.get("instructions") or ""))
        await self.send("session.updated", session=self.config)

    def persona_for(self, instructions: str) -> Persona | None:
        scenario = self.stand_in.scenario
        personas = scenario.agents
        named = [p for p in personas if instructions.startswith(f"You are {p.name},")]
        voiced = [p for p in personas if p.voice == self.voice]
        found = named or voiced
        return found[0] if found else None

    async def reject_key(self) -> None:
        message = (
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        await self.error("invalid_request_error", "invalid_api_key", message)
        self.stand_in.log(
            {"connection": self.connection, "voice": self.voice, "fault": "key_rejected"}
        )
        await self.ws.close(
            code=KEY_REJECTED_CLOSE, message=b"invalid_request_error.invalid_api_key"
        )

    async def create_item(self, event: dict[str, Any]) -> None:
        item = dict(event.get("item") or {})
        item.setdefault("id", new_id("item"))
        if item.get("role") == "assistant":
            self.own.add(item["id"])
        item["status"] = "completed"
        previous = event.get("previous_item_id")
        if previous == "root":
            self.items.insert(0, item["id"])
            previous = None
        elif previous in self.items:
            self.items.insert(self.items.index(previous) + 1, item["id"])
        else:
            previous = self.items[-1] if self.items else None
            self.items.append(item["id"])
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        await self.send("conversation.item.done", previous_item_id=previous, item=item)

    async def delete_item(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if item_id not in self.items:
            message = f"Error deleting item: the item with id '{item_id}' does not exist."
            await self.error(
                "invalid_request_error",
                "item_delete_invalid_item_id",
                message,
                event.get("event_id"),
            )
            return
        self.items.remove(item_id)
        self.own.discard(item_id)
        await self.send("conversation.item.deleted", item_id=item_id)

    async def cancel_response(self, event_id: str | None) -> None:
        if self.response is None or self.response.done():
            message = "Cancellation failed: no active response found"
            await self.error(
                "invalid_request_error", "response_cancel_not_active", message, event_id
            )
            return
        self.response.cancel()

    async def create_response(self, event: dict[str, Any]) -> None:
        if self.response is not None and not self.response.done():
            message = "Conversation already has an active response in progress."
            await self.error(
                "invalid_request_error",
                "conversation_already_has_active_response",
                message,
                event.get("event_id"),
            )
            return
        self.stand_in.responses[self.voice] += 1
        index = self.stand_in.responses[self.voice]
        self.response = asyncio.create_task(self.respond(event, index))

    # ------------------------------------------------------------------ one response

    def next_line(self) -> str:
        """The persona's line after those it already said in this conversation: with any
        number of agents every other line arrives as a user item, so only its own count."""
        persona, scenario = self.persona, self.stand_in.scenario
        self.said += 1
        if persona is None:
            return f"This is line {self.said} from the {self.voice or 'unnamed'} voice."
        if self.taken_over is not None:  # the replayed conversation is in by now
            self.lost, self.taken_over = max(0, self.taken_over - len(self.own)), None
        due = len(self.own) + self.lost  # 0-based: the response being made is not counted yet
        lines = scenario.lines_for(persona.role)
        return lines[due] if due < len(lines) else "That is all from me. Goodbye."

    def fault(self, kind: str, index: int) -> Any:
        found = self.stand_in.fault_for(kind, self.voice, index)
        if found is not None:
            self.stand_in.log(
                {
                    "connection": self.connection,
                    "voice": self.voice,
                    "fault": kind,
                    "response": index,
                }
            )
        return found

    async def respond(self, request: dict[str, Any], index: int) -> None:
        params = request.get("response") or {}
        if self.fault("error_event", index) is not None:
            message = (
                "The server had an error while processing your request. Sorry about that! "
                "You can retry your request."
            )
            await self.error("server_error", None, message, request.get("event_id"))
            return
        response: dict[str, Any] = {
            "object": "realtime.response",
            "id": new_id("resp"),
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": new_id("conv"),
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {
                "output": {
                    "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                    "voice": self.voice,
                }
            },
            "usage": None,
            "metadata": params.get("metadata"),
        }
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        try:
            await self.send("response.created", response=response)
            if self.fault("rate_limited", index) is not None:
                await self.finish(response, "failed", rate_limit_details())
                return
            await self.stream(response, item, index)
        except asyncio.CancelledError:
            if not self.ws.closed:
                item["status"] = "incomplete"
                response["output"] = [item]
                await self.finish(
                    response, "cancelled", {"type": "cancelled", "reason": "client_cancelled"}
                )
            raise

    async def stream(self, response: dict[str, Any], item: dict[str, Any], index: int) -> None:
        ids = {"response_id": response["id"], "item_id": item["id"]}
        at = {"output_index": 0, "content_index": 0}
        previous = self.items[-1] if self.items else None
        self.items.append(item["id"])
        await self.send(
            "response.output_item.added", response_id=response["id"], output_index=0, item=item
        )
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        await self.send(
            "response.content_part.added", **ids, **at, part={"type": "audio", "transcript": ""}
        )

        text = self.next_line()
        self.own.add(item["id"])  # in the conversation from now on, even if cut short
        persona = self.persona
        voice = offline_voice(self.stand_in.scenario, persona.role) if persona else EspeakVoice()
        pcm = await asyncio.to_thread(speech, text, voice)
        if (slow := self.fault("slow_first_audio", index)) is not None:
            await asyncio.sleep(slow.seconds)
        drop = self.fault("socket_closed", index) is not None

        words = text.split(" ")
        chunk = int(SAMPLE_RATE * CHUNK_S) * 2
        chunks = [pcm[i : i + chunk] for i in range(0, len(pcm), chunk)]
        loop = asyncio.get_running_loop()
        started, words_sent = loop.time(), 0
        for number, data in enumerate(chunks, start=1):
            due = round(len(words) * number / len(chunks))
            for word in words[words_sent:due]:
                delta = word if words_sent == 0 else " " + word
                await self.send("response.output_audio_transcript.delta", **ids, **at, delta=delta)
                words_sent += 1
            await self.send(
                "response.output_audio.delta", **ids, **at, delta=base64.b64encode(data).decode()
            )
            if drop and number == len(chunks) // 2:
                # a dropped connection: no close frame, the peer just sees the socket end
                self.stand_in.cut_short[self.voice] = len(self.own) + self.lost
                assert self.request.transport is not None
                self.request.transport.abort()
                return
            await asyncio.sleep(max(0.0, started + number * CHUNK_S - LEAD_S - loop.time()))

        part = {"type": "audio", "transcript": text}
        await self.send("response.output_audio.done", **ids, **at)
        await self.send("response.output_audio_transcript.done", **ids, **at, transcript=text)
        await self.send("response.content_part.done", **ids, **at, part=part)
        item.update(status="completed", content=[{"type": "output_audio", "transcript": text}])
        await self.send(
            "response.output_item.done", response_id=response["id"], output_index=0, item=item
        )
        await self.send("conversation.item.done", previous_item_id=previous, item=item)
        response["output"] = [item]
        response["usage"] = usage(len(words), len(pcm) / 2 / SAMPLE_RATE)
        await self.finish(response, "completed", None)

    async def finish(self, response: dict[str, Any], status: str, details: Any) -> None:
        response.update(status=status, status_details=details)
        await self.send("response.done", response=response)


def _fields(event: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: event.get(name) for name in names}
