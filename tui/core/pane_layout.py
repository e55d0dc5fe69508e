"""How the agent panes are laid out: a grid whose shape depends on how many agents there are."""

from __future__ import annotations

from typing import NamedTuple


class GridShape(NamedTuple):
    """Columns and rows of the agent pane grid."""

    columns: int
    rows: int


def grid_shape(count: int) -> GridShape:
    """Side by side for up to 2 panes, 2 columns for 3–4, 3 columns for 5–6 (and more).

    Two rows at most for a scenario's six agents keep each transcript tall enough to read.
    """
    count = max(1, count)
    columns = count if count <= 2 else 2 if count <= 4 else 3
    return GridShape(columns, -(-count // columns))
