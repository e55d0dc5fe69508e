"""The failures the realtime stand-in (``tests/realtime_standin.py``) can inject, and their
command-line form.

A fault targets the sessions of one OpenAI voice (``alloy`` is Tim, ``echo`` Chris in the
guide's configuration) or every session (``*``), so a test can break one agent and watch the
other carry on. What each kind does on the wire:

``key_rejected``
    What OpenAI does with a wrong key: it accepts the WebSocket, answers with an ``error`` event
    (``invalid_request_error`` / ``invalid_api_key``) and closes it with code 3000. The voice is
    known from the session's first ``session.update``, so this can target one agent.
``http_401``
    The handshake refused with HTTP 401 (proxies, gateways, Azure). The handshake carries no
    voice, so it hits every session.
``rate_limited``
    ``response.created`` then ``response.done`` with status ``failed`` and a
    ``rate_limit_exceeded`` error, as OpenAI ends a response over the account's limits.
``socket_closed``
    The TCP connection dropped halfway through the response's audio (no close frame).
``error_event``
    An ``error`` event (``server_error``) in answer to ``response.create``: no response is made.
``slow_first_audio``
    The response starts, then its first audio arrives ``seconds`` late.

``response`` picks which response of the voice's sessions the fault hits (1 is the first,
counted across reconnections); 0 hits every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

FaultKind: TypeAlias = Literal[
    "key_rejected", "http_401", "rate_limited", "socket_closed", "error_event", "slow_first_audio"
]
FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)
ANY_VOICE: Final = "*"
_RESPONSE_FAULTS: Final = ("rate_limited", "socket_closed", "error_event", "slow_first_audio")


class FaultError(ValueError):
    """A fault that cannot be injected; the message is one line naming the problem."""


@dataclass(frozen=True)
class Fault:
    """One failure to inject (see the module docstring)."""

    kind: FaultKind
    voice: str = ANY_VOICE
    response: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultError(f"unknown fault {self.kind!r}: use one of {', '.join(FAULT_KINDS)}")
        if self.kind == "http_401" and self.voice != ANY_VOICE:
            raise FaultError("http_401 cannot target a voice: the handshake carries none")
        if self.response < 0:
            raise FaultError(f"response={self.response} must be 0 (every one) or more")
        if self.response and self.kind not in _RESPONSE_FAULTS:
            raise FaultError(f"{self.kind} happens at connection, not on a response")
        if self.kind == "slow_first_audio" and self.seconds <= 0:
            raise FaultError("slow_first_audio needs seconds=N with N > 0")

    def targets(self, voice: str) -> bool:
        return self.voice in (ANY_VOICE, voice)

    def hits_response(self, voice: str, index: int) -> bool:
        """Whether the ``index``-th response (1-based) of ``voice``'s sessions is hit."""
        return self.targets(voice) and self.response in (0, index)


def parse_fault(text: str) -> Fault:
    """``KIND[,voice=V][,response=N][,seconds=S]``: ``slow_first_audio,voice=echo,seconds=3``."""
    kind, *pairs = [part.strip() for part in text.split(",")]
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in ("voice", "response", "seconds") or not value:
            raise FaultError(
                f"bad fault option {pair!r} in {text!r}: use voice=V, response=N or seconds=S"
            )
        fields[name] = value
    try:
        response = int(fields.get("response", "0"))
        seconds = float(fields.get("seconds", "0"))
    except ValueError:
        raise FaultError(f"bad number in fault {text!r}") from None
    return Fault(kind, fields.get("voice", ANY_VOICE), response, seconds)  # type: ignore[arg-type]
