"""agents.compat: the pins it reads, and the one line it says when a private attribute is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


_PRELOAD_PROBE = (
    "import json, logging, resource, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
    "from agents import compat\n"
    "import livekit.agents\n"
    "if sys.argv[1] == 'skip':\n"
    "    compat.skip_local_inference_preload()\n"
    "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "import livekit.agents.ipc._preload\n"
    "grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024\n"
    "print(json.dumps({'grew_mb': grew}))\n"
)
"""Runs the SDK's warm-up with its debug log on stderr; prints the MB it added to the peak."""


@pytest.mark.parametrize(("mode", "models_reached"), [("skip", False), ("default", True)])
def test_the_sdk_warm_up_skips_the_local_models_once_told(mode: str, models_reached: bool) -> None:
    # the SDK's own warm-up module, in a fresh process as in a worker's first job: the default
    # step loads the local VAD and end-of-turn models (240 MB), which no session here uses;
    # told to skip, it skips that step
    env = {k: v for k, v in os.environ.items() if k != compat.PRELOAD_LOCAL_INFERENCE_ENV}
    run = subprocess.run(
        [sys.executable, "-c", _PRELOAD_PROBE, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    # the SDK logs each step it ran, loaded ("preloaded ...") or failed ("could not preload
    # ..."); a step that skipped itself logs nothing
    reached = "preload the local inference models" in run.stderr or (
        "preloaded the local inference models" in run.stderr
    )
    assert reached is models_reached, run.stderr[-1500:]
    if not models_reached:
        # the end-of-turn weights alone are over 100 MB; the rest of the warm-up a few MB
        assert probe["grew_mb"] < 100, f"the warm-up grew the process by {probe['grew_mb']} MB"


def test_an_explicit_preload_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compat.PRELOAD_LOCAL_INFERENCE_ENV, "1")
    compat.skip_local_inference_preload()
    assert os.environ[compat.PRELOAD_LOCAL_INFERENCE_ENV] == "1"
