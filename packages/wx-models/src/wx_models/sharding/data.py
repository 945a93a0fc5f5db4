"""Per-rank reads of a dataset store: only the grid cells a rank owns.

The dataset store's ``data`` array is ``[time, variable, ensemble, cell]``. A sharded rank needs
``[variable, ensemble, owned cell]`` per date; reading with orthogonal indexing on the cell
dimension (zarr's ``oindex``) decodes only the chunks (or the inner chunks of a zarr v3 shard)
that hold those cells, and the sample held in host memory is the rank's share only. With one
chunk per time step and no inner chunks, zarr decodes the whole step transiently and keeps the
selection. Takes any array-like with ``oindex`` (zarr v2 and v3 arrays) or numpy indexing, so
wx-models needs no dataset package.
"""

from __future__ import annotations

import numpy as np

CELL_AXIS = 3  # data: [time, variable, ensemble, cell]


def cell_runs(cells: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` runs of ascending cell ids, e.g. for range requests."""
    cells = np.asarray(cells, dtype=np.int64)
    if cells.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cells) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [cells.size]])
    return [(int(cells[a]), int(cells[b - 1]) + 1) for a, b in zip(starts, stops, strict=True)]


def check_cells(cells: np.ndarray, num_cells: int, *, source: str) -> np.ndarray:
    """Cell ids as int64, ascending and inside ``0..num_cells-1``, or a ValueError naming ``source``."""
    cells = np.asarray(cells, dtype=np.int64)
    if cells.ndim != 1 or cells.size == 0:
        raise ValueError(f"{source}: cells must be a non-empty 1-D array of ids")
    if np.any(np.diff(cells) <= 0):
        raise ValueError(f"{source}: cells must be strictly ascending")
    if cells[0] < 0 or cells[-1] >= num_cells:
        raise ValueError(
            f"{source}: cell ids {cells[0]}..{cells[-1]} outside the {num_cells} cells of the store"
        )
    return cells


def read_cells(data, time: int | slice, cells: np.ndarray, *, source: str = "data") -> np.ndarray:
    """``data[time, :, :, cells]``: ``[variable, ensemble, cell]`` (or ``[time, ...]`` for a slice).

    ``data`` is a store's ``data`` array ``[time, variable, ensemble, cell]``; ``cells`` are a
    rank's grid cells (``ShardedModel.grid_cells``), ascending.
    """
    if len(data.shape) != 4:
        raise ValueError(
            f"{source}: expected [time, variable, ensemble, cell], got shape {tuple(data.shape)}"
        )
    cells = check_cells(cells, data.shape[CELL_AXIS], source=source)
    runs = cell_runs(cells)
    if len(runs) == 1:  # one contiguous block: a plain slice
        return np.asarray(data[time, :, :, runs[0][0] : runs[0][1]])
    if hasattr(data, "oindex"):
        return np.asarray(data.oindex[time, :, :, cells])
    return np.asarray(data[time])[..., cells]
