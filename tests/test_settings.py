"""Settings resolution: flags > environment > .env, one-line errors, the secret never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.core.redaction import redact
from tui.core.settings import LiveKitSettings, SettingsError, resolve_settings

SECRET = "s3cr3t-value-that-must-never-be-shown-0123456789"
FULL_ENV = {
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "envkey",
    "LIVEKIT_API_SECRET": SECRET,
}


@pytest.fixture(autouse=True)
def _no_dotenv_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in an empty folder so a developer's ./.env cannot leak in."""
    monkeypatch.chdir(tmp_path)


def _env_file(tmp_path: Path, text: str, name: str = "custom.env") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_url_anywhere_means_local_server() -> None:
    assert resolve_settings(None, None, None, environ={}) is None


def test_key_and_secret_without_url_still_mean_local_server() -> None:
    env = {"LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": SECRET}
    assert resolve_settings(None, None, None, environ=env) is None


def test_environment_is_used() -> None:
    settings = resolve_settings(None, None, None, environ=FULL_ENV)
    assert settings == LiveKitSettings("ws://127.0.0.1:7880", "envkey", SECRET, "environment")


def test_flags_beat_environment_field_by_field() -> None:
    settings = resolve_settings("wss://flag.example", None, None, environ=FULL_ENV)
    assert settings is not None
    assert settings.url == "wss://flag.example"
    assert settings.api_key == "envkey"
    assert settings.source == "--url, environment"


def test_environment_beats_env_file(tmp_path: Path) -> None:
    path = _env_file(
        tmp_path, f"LIVEKIT_URL=ws://file:1\nLIVEKIT_API_KEY=filekey\nLIVEKIT_API_SECRET={SECRET}\n"
    )
    settings = resolve_settings(
        None, None, None, env_file=path, environ={"LIVEKIT_API_KEY": "envkey"}
    )
    assert settings is not None
    assert (settings.url, settings.api_key) == ("ws://file:1", "envkey")
    assert settings.source == f"{path}, environment"


def test_default_dotenv_in_cwd_is_read_but_not_loaded(tmp_path: Path) -> None:
    _env_file(
        tmp_path,
        f"LIVEKIT_URL=http://127.0.0.1:7880\nLIVEKIT_API_KEY=k\nLIVEKIT_API_SECRET='{SECRET}'\n",
        name=".env",
    )
    before = dict(os.environ)
    settings = resolve_settings(None, None, None, environ={})
    assert settings is not None
    assert settings.api_secret == SECRET  # quotes stripped by python-dotenv
    assert dict(os.environ) == before, "the .env file must not be loaded into os.environ"


def test_blank_values_count_as_unset(tmp_path: Path) -> None:
    path = _env_file(tmp_path, "LIVEKIT_URL=\n")
    assert resolve_settings("  ", None, None, env_file=path, environ={"LIVEKIT_URL": ""}) is None


def test_missing_explicit_env_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist") as info:
        resolve_settings(None, None, None, env_file=tmp_path / "nope.env", environ={})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"LIVEKIT_URL": "ws://127.0.0.1:7880", "LIVEKIT_API_SECRET": SECRET}, "LIVEKIT_API_KEY"),
        ({"LIVEKIT_URL": "ws://127.0.0.1:7880", "LIVEKIT_API_KEY": "k"}, "LIVEKIT_API_SECRET"),
        ({"LIVEKIT_URL": "ws://127.0.0.1:7880"}, "LIVEKIT_API_KEY and LIVEKIT_API_SECRET"),
    ],
)
def test_url_without_credentials_names_what_is_missing(env: dict[str, str], missing: str) -> None:
    with pytest.raises(SettingsError) as info:
        resolve_settings(None, None, None, environ=env)
    message = str(info.value)
    assert f"but {missing} " in message
    assert "--api-key" in message and "\n" not in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "127.0.0.1:7880", "localhost", "ws://", "wss:///path"]
)
def test_bad_url_scheme_or_host_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="ws://"):
        resolve_settings(url, "k", SECRET, environ={})


def test_user_info_in_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="user info") as info:
        resolve_settings(f"wss://key:{SECRET}@example.com", "k", SECRET, environ={})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["ws://a", "wss://a.example", "http://127.0.0.1:1", "https://b"])
def test_accepted_schemes(url: str) -> None:
    settings = resolve_settings(url, "k", SECRET, environ={})
    assert settings is not None and settings.url == url


def test_secret_never_in_repr_or_str() -> None:
    settings = resolve_settings(None, None, None, environ=FULL_ENV)
    assert settings is not None
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert "envkey" in repr(settings)


def test_redact_replaces_every_secret_and_ignores_empty_ones() -> None:
    text = f"token {SECRET} and {SECRET[:10]} and again {SECRET}"
    assert redact(text, [SECRET[:10], SECRET, ""]) == "token *** and *** and again ***"
    assert redact("nothing here", []) == "nothing here"
