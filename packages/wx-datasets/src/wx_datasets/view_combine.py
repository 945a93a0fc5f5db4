"""Views made of several views: variables side by side (join) or periods in sequence (concat)."""

from __future__ import annotations

import numpy as np

from wx_datasets.errors import DateMismatchError, GridMismatchError
from wx_datasets.grids import COORDINATE_TOLERANCE
from wx_datasets.view import DatasetView
from wx_utils.dates import to_iso


def _check_grids(views: list[DatasetView]) -> None:
    first = views[0]
    for index, other in enumerate(views[1:], start=1):
        same = len(other.latitudes) == len(first.latitudes) and bool(
            np.allclose(other.latitudes, first.latitudes, atol=COORDINATE_TOLERANCE, rtol=0)
            and np.allclose(other.longitudes, first.longitudes, atol=COORDINATE_TOLERANCE, rtol=0)
        )
        if not same:
            raise GridMismatchError(
                f"dataset {index} ({len(other.latitudes)} cells) is not on the grid of dataset 0 "
                f"({len(first.latitudes)} cells)"
            )
        if other.ensemble_size != first.ensemble_size:
            raise ValueError(
                f"dataset {index} has {other.ensemble_size} members, dataset 0 has "
                f"{first.ensemble_size}"
            )


class JoinView(DatasetView):
    """The variables of several views with the same dates and grid, in order."""

    def __init__(self, views: list[DatasetView]) -> None:
        if len(views) < 2:
            raise ValueError("join needs at least two datasets")
        _check_grids(views)
        first = views[0]
        for index, other in enumerate(views[1:], start=1):
            if not np.array_equal(other.dates, first.dates):
                only = np.setxor1d(other.dates, first.dates)
                raise DateMismatchError(
                    f"join: dataset {index} and dataset 0 have different dates (e.g. "
                    f"{', '.join(to_iso(d) for d in only[:3])}); select the same start, end and "
                    "frequency"
                )
        names = [name for view in views for name in view.variables]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"join: variables {repeated} are in several datasets; rename them")
        self._views = views
        self._owner = np.concatenate([np.full(len(v.variables), i) for i, v in enumerate(views)])
        self._local = np.concatenate([np.arange(len(v.variables)) for v in views])
        self.variables = names
        self.variables_metadata = {k: m for v in views for k, m in v.variables_metadata.items()}
        for attribute in (
            "dates",
            "frequency",
            "latitudes",
            "longitudes",
            "area_weight",
            "grid_shape",
            "ensemble_size",
        ):
            setattr(self, attribute, getattr(first, attribute))
        self.missing = np.any([v.missing for v in views], axis=0)
        self.statistics = _concatenate_statistics(views, "statistics")
        self.statistics_tendencies = _concatenate_statistics(views, "statistics_tendencies")
        self.metadata = {
            **first.metadata,
            "variables": names,
            "variables_metadata": self.variables_metadata,
        }

    def _read(self, time_index, variable_index, cell_index) -> np.ndarray:
        chosen = (
            np.arange(len(self.variables)) if variable_index is None else np.asarray(variable_index)
        )
        parts = []
        for owner in range(len(self._views)):
            mine = chosen[self._owner[chosen] == owner]
            if mine.size:
                parts.append(
                    (owner, self._views[owner]._read(time_index, self._local[mine], cell_index))
                )
        if len(parts) == 1:
            return parts[0][1]
        blocks = np.concatenate([block for _, block in parts], axis=1)
        order = np.concatenate([np.flatnonzero(self._owner[chosen] == owner) for owner, _ in parts])
        return blocks[:, np.argsort(order)]


def _concatenate_statistics(views, attribute):
    keys = getattr(views[0], attribute).keys()
    return {k: np.concatenate([getattr(v, attribute)[k] for v in views]) for k in keys}


class ConcatView(DatasetView):
    """Views with the same variables and grid covering successive periods.

    Statistics are those of the first view (they are meant for normalisation, and the first
    dataset is usually the training period).
    """

    def __init__(self, views: list[DatasetView]) -> None:
        if len(views) < 2:
            raise ValueError("concat needs at least two datasets")
        _check_grids(views)
        first = views[0]
        for index, other in enumerate(views[1:], start=1):
            if other.variables != first.variables:
                raise ValueError(
                    f"concat: dataset {index} has variables {other.variables}, dataset 0 has "
                    f"{first.variables}"
                )
            if other.frequency != first.frequency:
                raise ValueError(f"concat: dataset {index} has another frequency than dataset 0")
            previous = views[index - 1]
            if len(other) and len(previous) and other.dates[0] <= previous.dates[-1]:
                raise DateMismatchError(
                    f"concat: dataset {index} starts at {to_iso(other.dates[0])}, not after the "
                    f"end of dataset {index - 1} ({to_iso(previous.dates[-1])})"
                )
        self._views = views
        self._owner = np.concatenate([np.full(len(v), i) for i, v in enumerate(views)])
        self._local = np.concatenate([np.arange(len(v)) for v in views])
        self.dates = np.concatenate([v.dates for v in views])
        self.missing = np.concatenate([v.missing for v in views])
        for attribute in (
            "variables",
            "variables_metadata",
            "frequency",
            "latitudes",
            "longitudes",
            "area_weight",
            "grid_shape",
            "ensemble_size",
            "statistics",
            "statistics_tendencies",
            "metadata",
        ):
            setattr(self, attribute, getattr(first, attribute))

    def _read(self, time_index, variable_index, cell_index) -> np.ndarray:
        time_index = np.asarray(time_index, dtype=np.int64)
        if time_index.size == 0:
            return self._views[0]._read(time_index, variable_index, cell_index)
        owners = self._owner[time_index]
        if np.all(owners == owners[0]):
            return self._views[owners[0]]._read(self._local[time_index], variable_index, cell_index)
        out = None
        for owner in np.unique(owners):
            chosen = owners == owner
            block = self._views[owner]._read(
                self._local[time_index[chosen]], variable_index, cell_index
            )
            if out is None:
                out = np.empty((time_index.size, *block.shape[1:]), dtype=block.dtype)
            out[chosen] = block
        return out
