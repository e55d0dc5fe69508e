"""The agent pane grid's shape for 1 to 6 agents."""

from __future__ import annotations

import pytest

from tui.core.pane_layout import GridShape, grid_shape


@pytest.mark.parametrize(
    ("count", "shape"),
    [
        (1, GridShape(1, 1)),
        (2, GridShape(2, 1)),  # side by side, as the pair always was
        (3, GridShape(2, 2)),
        (4, GridShape(2, 2)),
        (5, GridShape(3, 2)),
        (6, GridShape(3, 2)),
    ],
)
def test_grid_shape(count: int, shape: GridShape) -> None:
    assert grid_shape(count) == shape


def test_every_pane_has_a_cell() -> None:
    for count in range(0, 8):
        shape = grid_shape(count)
        assert shape.columns * shape.rows >= max(1, count)
        assert shape.columns <= 3
