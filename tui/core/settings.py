"""Where the LiveKit server is and how to authenticate: flags, environment, ``.env``.

Resolution is per field with the precedence flags > process environment > ``.env`` file, so
``--url`` can point at another server while the key and secret still come from the
environment. The ``.env`` file is read with ``dotenv_values`` and never loaded into
``os.environ``: the worker and the SDKs must see exactly what this module decided.

No URL at all means "run a local loopback server", which is the dashboard's default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from tui.core.roles import RoleMatch

URL_VAR = "LIVEKIT_URL"
KEY_VAR = "LIVEKIT_API_KEY"
SECRET_VAR = "LIVEKIT_API_SECRET"
ALLOWED_SCHEMES = ("ws", "wss", "http", "https")
VOICE_CHOICES = ("realtime", "offline")


class SettingsError(ValueError):
    """Configuration that cannot work; the message is one line naming the fix."""


@dataclass(frozen=True)
class LiveKitSettings:
    """A LiveKit server and the credentials for it. The secret never appears in ``repr``."""

    url: str
    api_key: str
    api_secret: str = field(repr=False)
    source: str
    """Where the values came from, for status lines (e.g. ``"environment"``)."""


@dataclass(frozen=True)
class DashboardOptions:
    """Everything the dashboard needs from the command line."""

    settings: LiveKitSettings | None
    """The server to use, or None to start a local loopback server."""
    scenario_dirs: tuple[Path, ...]
    """Folders whose ``*.json`` files are offered as scenarios."""
    no_worker: bool
    """Do not run the in-process agent worker (another worker serves the rooms)."""
    voice: str | None
    """``"realtime"``, ``"offline"`` or None to choose automatically."""
    record: bool = True
    """Record every observed room (:mod:`tui.core.record`)."""
    matches: tuple[RoleMatch, ...] = ()
    """``--match ROLE=REGEX`` patterns that give agents a role (:mod:`tui.core.roles`)."""


def _clean(value: str | None) -> str | None:
    """Empty or blank values count as unset (``LIVEKIT_URL=`` in a .env file)."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _read_env_file(env_file: Path | None) -> tuple[dict[str, str], str]:
    """Values of the explicit env file, or of ``./.env`` if it exists; and its display name."""
    if env_file is None:
        default = Path.cwd() / ".env"
        if not default.is_file():
            return {}, ""
        path = default
    else:
        path = env_file
        if not path.is_file():
            raise SettingsError(
                f"env file {path} does not exist: fix the --env-file path or drop the option"
            )
    try:
        raw = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"env file {path} cannot be read ({exc.__class__.__name__}): save it as UTF-8 text"
        ) from None
    values = {k: v for k, v in raw.items() if v is not None}
    return values, str(path)


def _validate_url(url: str, origin: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        shown = url if len(url) <= 60 else url[:57] + "..."
        raise SettingsError(
            f"{URL_VAR} from {origin} is {shown!r}: use ws://, wss://, http:// or https:// "
            "followed by a host, e.g. ws://127.0.0.1:7880"
        )
    if parts.username or parts.password:
        # Credentials belong in the key/secret settings, never in a URL that gets displayed.
        raise SettingsError(
            f"{URL_VAR} from {origin} contains user info: remove it and set "
            f"{KEY_VAR}/{SECRET_VAR} instead"
        )


def resolve_settings(
    url: str | None,
    api_key: str | None,
    api_secret: str | None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LiveKitSettings | None:
    """Combine flags, environment and env file; None when no URL is configured anywhere.

    Raises SettingsError when a URL is configured but unusable, when the key or secret is
    missing for it, or when an explicit ``env_file`` does not exist.
    """
    env = os.environ if environ is None else environ
    file_values, file_name = _read_env_file(env_file)
    file_origin = file_name or ".env"

    def pick(flag: str | None, var: str, flag_name: str) -> tuple[str | None, str]:
        if (value := _clean(flag)) is not None:
            return value, flag_name
        if (value := _clean(env.get(var))) is not None:
            return value, "environment"
        if (value := _clean(file_values.get(var))) is not None:
            return value, file_origin
        return None, ""

    url_value, url_origin = pick(url, URL_VAR, "--url")
    key_value, key_origin = pick(api_key, KEY_VAR, "--api-key")
    secret_value, secret_origin = pick(api_secret, SECRET_VAR, "--api-secret")
    if url_value is None:
        return None
    _validate_url(url_value, url_origin)
    missing = [
        var for var, value in ((KEY_VAR, key_value), (SECRET_VAR, secret_value)) if value is None
    ]
    if missing:
        names = " and ".join(missing)
        raise SettingsError(
            f"{URL_VAR} is set (from {url_origin}) but {names} "
            f"{'is' if len(missing) == 1 else 'are'} missing: set "
            f"{'it' if len(missing) == 1 else 'them'} in the environment or .env, "
            "or pass --api-key/--api-secret (or unset LIVEKIT_URL to run a local server)"
        )
    assert key_value is not None and secret_value is not None
    origins = dict.fromkeys((url_origin, key_origin, secret_origin))
    return LiveKitSettings(
        url=url_value,
        api_key=key_value,
        api_secret=secret_value,
        source=", ".join(origins),
    )
