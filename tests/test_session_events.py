"""What a session error says: the provider's own code and message, on one line."""

from __future__ import annotations

from livekit.agents import APIConnectionError, APIError
from openai.types.realtime import RealtimeErrorEvent

from agents.session_events import error_text


def test_realtime_error_event_keeps_openais_code_and_message() -> None:
    # what livekit-plugins-openai 1.8.9 raises for an ``error`` event: the text alone says nothing
    event = RealtimeErrorEvent.construct(
        type="error",
        event_id="event_1",
        error={
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "message": "Incorrect API key provided.\nSee the docs.",
        },
    )
    error = APIError("OpenAI Realtime API returned an error", body=event.error, retryable=False)
    assert error_text(error) == (
        "OpenAI Realtime API returned an error: invalid_api_key: Incorrect API key provided. "
        "See the docs."
    )


def test_dict_body_and_plain_errors() -> None:
    failed = APIError("response failed", body={"type": "x", "code": "rate_limit_exceeded"})
    assert error_text(failed) == "response failed: rate_limit_exceeded"
    assert error_text(APIError("no body")) == "no body"
    assert error_text(RuntimeError()) == "RuntimeError"


def test_a_connection_error_is_not_repeated() -> None:
    error = APIConnectionError("OpenAI Realtime API connection closed unexpectedly")
    assert error_text(error) == "OpenAI Realtime API connection closed unexpectedly"
