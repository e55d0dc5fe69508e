"""Keep secrets out of everything the dashboard shows or writes."""

from __future__ import annotations

import re
from collections.abc import Iterable

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")


def redact_tokens(text: str) -> str:
    """Replace anything shaped like a JWT with ``<token>``.

    Needed because livekit-server echoes a rejected token in its 401 reply ("invalid token:
    eyJ..."), and the rtc SDK puts that reply into ``ConnectError`` and into its own log
    records on the ``livekit`` logger.
    """
    return _JWT.sub("<token>", text)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``."""
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
