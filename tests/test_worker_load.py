from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agents.multi_agent_worker import job_count_load, worker_capacity
from agents.voices import VoiceConfigError
from agents.worker_server import workers_on_machine


def _server(jobs: int) -> Any:
    return SimpleNamespace(active_jobs=[object()] * jobs)


def test_load_is_the_share_of_calls_in_use_capped_at_one() -> None:
    load = job_count_load(4)
    assert load(_server(0)) == 0.0
    assert load(_server(1)) == 0.25
    assert load(_server(9)) == 1.0


def test_capacity_comes_from_the_environment() -> None:
    assert worker_capacity({}) is None
    assert worker_capacity({"DISPATCH_WORKER_CAPACITY": " 8 "}) == 8


@pytest.mark.parametrize("raw", ["0", "-2", "many", "1.5"])
def test_bad_capacity_is_one_clear_error(raw: str) -> None:
    with pytest.raises(VoiceConfigError, match="DISPATCH_WORKER_CAPACITY"):
        worker_capacity({"DISPATCH_WORKER_CAPACITY": raw})


def test_workers_on_machine_splits_the_cores_and_rejects_nonsense() -> None:
    assert workers_on_machine({}) == 1
    assert workers_on_machine({"DISPATCH_WORKERS_ON_MACHINE": " 2 "}) == 2
    for raw in ("0", "-1", "two"):
        with pytest.raises(VoiceConfigError, match="DISPATCH_WORKERS_ON_MACHINE"):
            workers_on_machine({"DISPATCH_WORKERS_ON_MACHINE": raw})
