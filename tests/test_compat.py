"""agents.compat: the pins it reads, and the one line it says when a private attribute is gone."""

from __future__ import annotations

import pytest

from agents import compat


def test_pins_come_from_the_project_dependencies() -> None:
    assert compat.pinned_versions() == {
        "livekit": "1.1.21",
        "livekit-agents": "1.8.9",
        "livekit-api": "1.2.2",
    }


def test_no_drift_with_the_pinned_sdk_installed() -> None:
    assert compat.version_drift() == ""


def test_drift_names_each_package_that_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {**compat.pinned_versions(), "livekit-agents": "1.9.0"}
    monkeypatch.setattr(compat, "installed_versions", lambda: installed)
    assert compat.version_drift() == "livekit-agents 1.9.0 installed, 1.8.9 pinned"


def test_a_missing_private_attribute_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "version_drift", lambda: "livekit 1.2.0 installed, 1.1.21 pinned")

    class Context:  # a JobContext whose private _info was renamed
        pass

    with pytest.raises(compat.SdkCompatError) as raised:
        compat.job_server_url(Context())  # type: ignore[arg-type]
    message = str(raised.value)
    assert "\n" not in message
    assert "JobContext._info.url" in message and "livekit 1.2.0 installed" in message


def test_the_rtc_client_accessors_work_on_the_pinned_sdk() -> None:
    compat.ensure_rtc_client()
    assert compat.rtc_client_exists()
