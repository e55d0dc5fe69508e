from __future__ import annotations

import dataclasses
import time
import typing

import pytest

from tui.core import events
from tui.core.events import (
    DOMAIN_EVENT_TYPES,
    AttributesChanged,
    AudioLevel,
    ParticipantJoined,
    freeze_attributes,
)


def test_union_and_type_tuple_list_the_same_events() -> None:
    assert set(typing.get_args(events.DomainEvent)) == set(DOMAIN_EVENT_TYPES)


@pytest.mark.parametrize("cls", DOMAIN_EVENT_TYPES)
def test_every_event_is_frozen_slotted_and_timestamped(cls: type) -> None:
    params = dataclasses.fields(cls)
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert hasattr(cls, "__slots__")
    assert params[0].name == "room"
    assert params[-1].name == "at"


def test_at_defaults_to_monotonic_now() -> None:
    before = time.monotonic()
    level = AudioLevel(room="r", identity="x", rms_dbfs=-20.0)
    assert before <= level.at <= time.monotonic()
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.rms_dbfs = 0.0  # type: ignore[misc]


def test_attributes_are_frozen_sorted_and_hashable() -> None:
    frozen = freeze_attributes({"b": "2", "a": "1"})
    assert frozen == (("a", "1"), ("b", "2"))
    joined = ParticipantJoined(room="r", identity="x", attributes=frozen, at=1.0)
    assert hash(joined) == hash(
        ParticipantJoined(room="r", identity="x", attributes=frozen, at=1.0)
    )
    assert joined.attribute_map == {"a": "1", "b": "2"}
    changed = AttributesChanged(room="r", identity="x", attributes=frozen, changed=(("a", "1"),))
    assert changed.attribute_map["b"] == "2"
