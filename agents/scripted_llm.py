"""An offline ``llm.LLM`` that speaks a scenario's scripted lines for one role, in order.

It ignores what it is told: the n-th reply is the n-th line, where n is the number of assistant
messages already in the chat context it is given. Deriving the position from the history (rather
than from a counter) keeps a retried or cancelled request from skipping a line. When the script
runs out it replies with nothing, which the turn relay treats as the end of the call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from livekit.agents import APIConnectOptions, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr


class ScriptedLLM(llm.LLM[Any]):
    """Replies with ``lines[n]`` for the n-th assistant turn; no network."""

    def __init__(self, lines: Sequence[str], *, label: str = "scripted") -> None:
        super().__init__()
        self._lines = tuple(lines)
        self._script_label = label

    @property
    def lines(self) -> tuple[str, ...]:
        return self._lines

    @property
    def model(self) -> str:
        return f"scripted:{self._script_label}"

    @property
    def provider(self) -> str:
        return "dispatch-tui"

    def line_for(self, chat_ctx: llm.ChatContext) -> str | None:
        """The line to say next given the history, or None when the script is exhausted."""
        said = sum(1 for message in chat_ctx.messages() if message.role == "assistant")
        return self._lines[said] if said < len(self._lines) else None

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _ScriptedStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ScriptedStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._line = scripted.line_for(chat_ctx)

    async def _run(self) -> None:
        if self._line is None:
            return
        request_id = uuid.uuid4().hex
        # word by word, like a real model streams tokens: the sentence tokenizer in front of
        # the TTS sees the same shape of input as in the realtime-free pipeline
        words = self._line.split(" ")
        for index, word in enumerate(words):
            piece = word if index == len(words) - 1 else word + " "
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(role="assistant", content=piece),
                )
            )
