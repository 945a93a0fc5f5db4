"""Lazy views of dataset stores: integer indexing gives numpy arrays, nothing is read before.

Every view answers ``_read(time_index, variable_index, cell_index)``; a :class:`Subset` only
composes index arrays and passes them on, so any chain of selections on a store ends in one
read of the chunks it needs (one chunk per date), decoded straight into the output buffer.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from wx_datasets.chunks import DateChunks
from wx_datasets.store import STATISTICS, header_of, open_root
from wx_utils.dates import parse_frequency


class DatasetView:
    """Common interface of store views, subsets, joins and concatenations."""

    variables: list[str]
    dates: np.ndarray  # [time] datetime64[s]
    frequency: dt.timedelta
    latitudes: np.ndarray  # [cell] degrees
    longitudes: np.ndarray  # [cell] degrees
    area_weight: np.ndarray | None  # [cell]
    grid_shape: tuple[int, ...] | None
    ensemble_size: int
    variables_metadata: dict[str, dict]
    statistics: dict[str, np.ndarray]  # mean, stdev, minimum, maximum [variable]
    statistics_tendencies: dict[str, np.ndarray]  # mean, stdev [variable]
    missing: np.ndarray  # [time] bool: dates with no data in the store
    metadata: dict[str, Any]

    @property
    def name_to_index(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.variables)}

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.dates), len(self.variables), self.ensemble_size, len(self.latitudes))

    def __len__(self) -> int:
        return len(self.dates)

    def __getitem__(self, key) -> np.ndarray:
        """``view[i]`` -> ``[variable, ensemble, cell]``; ``view[i:j]`` -> ``[time, ...]``."""
        if isinstance(key, tuple):
            head = self[key[0]]
            if isinstance(key[0], int | np.integer):
                return head[key[1:]]
            return head[(slice(None), *key[1:])]
        if isinstance(key, int | np.integer):
            index = int(key) + len(self) if key < 0 else int(key)
            if not 0 <= index < len(self):
                raise IndexError(f"date index {key} out of range for {len(self)} dates")
            return self._read(np.array([index]), None, None)[0]
        if isinstance(key, slice):
            return self._read(np.arange(len(self))[key], None, None)
        index = np.asarray(key)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"cannot index a dataset view with {key!r}")
        index = np.where(index < 0, index + len(self), index)
        if np.any((index < 0) | (index >= len(self))):
            raise IndexError(f"date index out of range for {len(self)} dates")
        return self._read(index, None, None)

    def _read(self, time_index, variable_index, cell_index) -> np.ndarray:
        raise NotImplementedError

    def to_xarray(self):
        """The view as a lazy ``xarray.Dataset``: one variable per field, dims (time, ensemble, cell)."""
        import dask.array
        import xarray as xr

        lazy = dask.array.from_array(
            _ArrayAdapter(self), chunks=(1, *self.shape[1:]), asarray=True, fancy=False
        )
        data_vars = {}
        for index, name in enumerate(self.variables):
            attrs = {
                k: v for k, v in self.variables_metadata.get(name, {}).items() if v is not None
            }
            data_vars[name] = (("time", "ensemble", "cell"), lazy[:, index], attrs)
        coords = {
            "time": ("time", self.dates.astype("datetime64[ns]")),
            "latitude": ("cell", self.latitudes, {"units": "degrees_north"}),
            "longitude": ("cell", self.longitudes, {"units": "degrees_east"}),
        }
        if self.area_weight is not None:
            coords["area_weight"] = ("cell", self.area_weight)
        attrs = {"frequency": f"{int(self.frequency.total_seconds())}s"}
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)

    def __repr__(self) -> str:
        first = str(self.dates[0]) if len(self) else "-"
        last = str(self.dates[-1]) if len(self) else "-"
        return (
            f"{type(self).__name__}({len(self)} dates {first}..{last}, "
            f"{len(self.variables)} variables, {self.ensemble_size} members, "
            f"{len(self.latitudes)} cells)"
        )


class _ArrayAdapter:
    """What ``dask.array.from_array`` needs: shape, dtype and basic slicing."""

    def __init__(self, view: DatasetView) -> None:
        self.view = view
        self.shape = view.shape
        self.dtype = np.dtype(np.float32)
        self.ndim = 4

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        return self.view[key[0]][(slice(None), *key[1:])]


class StoreView(DatasetView):
    """A whole store, opened lazily: coordinates and statistics are read, data is not."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        root = open_root(self.path)
        header = header_of(root, source=self.path, require_complete=True)
        self.metadata = header
        self.variables = list(header["variables"])
        self.variables_metadata = copy.deepcopy(header["variables_metadata"])
        self.ensemble_size = int(header["ensemble_size"])
        self.frequency = parse_frequency(header["frequency"])
        self.dates = root["dates"][...].astype("datetime64[s]")
        self.latitudes = root["latitudes"][...]
        self.longitudes = root["longitudes"][...]
        self.area_weight = root["area_weight"][...] if "area_weight" in root else None
        self.grid_shape = tuple(header["grid"]["shape"]) if "shape" in header["grid"] else None
        stats = {name: root[name][...] for name in STATISTICS}
        self.statistics = {k: stats[k] for k in ("mean", "stdev", "minimum", "maximum")}
        self.statistics_tendencies = {
            "mean": stats["tendency_mean"],
            "stdev": stats["tendency_stdev"],
        }
        missing = np.array(header["missing_dates"], dtype="datetime64[s]")
        self.missing = np.isin(self.dates, missing)
        self._zarr = root["data"]
        self._local = self._local_array()

    def _local_array(self) -> DateChunks | None:
        if "://" in self.path:
            return None
        local = DateChunks(Path(self.path) / "data")
        return local if local.supported else None

    def _read(self, time_index, variable_index, cell_index) -> np.ndarray:
        """``[time, variable, ensemble, cell]``; with ``cell_index``, only those cells are kept.

        A selection of cells (a sharded rank's part of the grid) never holds more than one
        whole date in memory: each date is decoded into one scratch buffer and its cells copied
        out, so the result, and the peak, shrink with the selection.
        """
        time_index = np.asarray(time_index, dtype=np.int64)
        cells = slice(None) if cell_index is None else np.asarray(cell_index)
        if self._local is not None:
            out = self._read_local(time_index, cell_index)
        elif cell_index is None and _is_run(time_index):
            out = self._zarr[int(time_index[0]) : int(time_index[0]) + time_index.size]
        else:
            out = self._zarr.get_orthogonal_selection((time_index, slice(None), slice(None), cells))
        if variable_index is not None:
            out = out[:, variable_index]
        return out

    def _read_local(self, time_index: np.ndarray, cell_index) -> np.ndarray:
        shape = self._zarr.shape[1:]  # [variable, ensemble, cell]
        if cell_index is None:
            out = np.empty((time_index.size, *shape), dtype=np.float32)
        else:
            out = np.empty((time_index.size, *shape[:-1], len(cell_index)), dtype=np.float32)
            scratch = np.empty(shape, dtype=np.float32)  # one whole date
        for position, date in enumerate(time_index):
            target = out[position] if cell_index is None else scratch
            if not self._local.read_into(int(date), target):
                target[...] = np.nan
            if cell_index is not None:
                out[position] = scratch[..., cell_index]
        return out


class Subset(DatasetView):
    """Dates, variables and cells of another view, with variables possibly renamed."""

    def __init__(
        self,
        parent: DatasetView,
        *,
        time_index: np.ndarray | None = None,
        variable_index: np.ndarray | None = None,
        cell_index: np.ndarray | None = None,
        names: list[str] | None = None,
        frequency: dt.timedelta | None = None,
        grid_shape: tuple[int, ...] | str | None = "same",
    ) -> None:
        self.parent = parent
        self._time = time_index
        self._variables = variable_index
        self._cells = cell_index
        time = slice(None) if time_index is None else time_index
        var = slice(None) if variable_index is None else variable_index
        cell = slice(None) if cell_index is None else cell_index
        old_names = [parent.variables[i] for i in np.arange(len(parent.variables))[var]]
        self.variables = list(names) if names is not None else old_names
        self.variables_metadata = {
            new: copy.deepcopy(parent.variables_metadata.get(old, {}))
            for new, old in zip(self.variables, old_names, strict=True)
        }
        self.dates = parent.dates[time]
        self.missing = parent.missing[time]
        self.frequency = frequency or parent.frequency
        self.latitudes = parent.latitudes[cell]
        self.longitudes = parent.longitudes[cell]
        self.area_weight = None if parent.area_weight is None else parent.area_weight[cell]
        self.grid_shape = parent.grid_shape if grid_shape == "same" else grid_shape
        self.ensemble_size = parent.ensemble_size
        self.statistics = {k: v[var] for k, v in parent.statistics.items()}
        self.statistics_tendencies = {k: v[var] for k, v in parent.statistics_tendencies.items()}
        self.metadata = {
            **parent.metadata,
            "variables": self.variables,
            "variables_metadata": self.variables_metadata,
        }

    def _read(self, time_index, variable_index, cell_index) -> np.ndarray:
        return self.parent._read(
            _compose(self._time, time_index),
            _compose(self._variables, variable_index),
            _compose(self._cells, cell_index),
        )


def _is_run(index: np.ndarray) -> bool:
    """Whether ``index`` is consecutive dates (one slice read)."""
    return bool(index.size) and np.array_equal(index, np.arange(index[0], index[0] + index.size))


def _compose(outer: np.ndarray | None, inner: np.ndarray | None) -> np.ndarray | None:
    """Index into the parent of selecting ``inner`` from a subset that selected ``outer``."""
    if outer is None:
        return inner
    if inner is None:
        return outer
    return outer[inner]
