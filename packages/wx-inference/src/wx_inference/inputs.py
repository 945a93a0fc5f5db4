"""Initial conditions, boundary values and truth: a wx dataset store, or any xarray file.

Both kinds of source answer the same questions (variables, dates, cells, ensemble size) and
read ``[time, variable, ensemble, cell]`` float32 arrays at given dates, so the forecaster and the
scorer do not care where the fields come from.

- A wx dataset store (its root ``zarr.json`` holds a ``wx-dataset`` header) is opened with
  ``wx_datasets.open_dataset``.
- Anything else goes through xarray: netCDF (``.nc``), GRIB (``.grib``/``.grib2``, needs cfgrib
  and eccodes) or zarr. Fields are flattened row-major over (latitude, longitude), or taken on
  their cell dimension for unstructured grids. A variable mapping names the file's variable for
  each wx name (``{"t_850": "t"}``); a wx name ``<param>_<level>`` not in the file selects
  ``level`` from ``param``'s vertical coordinate (e.g. ``t_850`` from ``t`` at 850 hPa).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wx_inference.cf import split_level
from wx_inference.grids import infer_grid_shape

LOG = logging.getLogger(__name__)

TIME_DIMS = ("time", "valid_time", "date", "datetime")
MEMBER_DIMS = ("member", "number", "ensemble", "realization")
LEVEL_DIMS = ("isobaricInhPa", "level", "plev", "pressure", "pressure_level", "lev")
LATITUDE_NAMES = ("latitude", "lat")
LONGITUDE_NAMES = ("longitude", "lon")
CELL_DIMS = ("cell", "values", "ncells", "node", "points")


class InputError(ValueError):
    """An input that cannot be opened or lacks what was asked of it."""


class MissingVariableError(InputError, KeyError):
    """A variable the checkpoint needs is not in the input."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class MissingDateError(InputError):
    """A date the forecast needs is not in the input."""


@dataclass
class InputSource:
    """Fields at dates on a grid, from a dataset store or an xarray dataset."""

    path: str
    kind: str  # "wx-dataset" or "xarray"
    variables: list[str]
    dates: np.ndarray  # [time] datetime64[s]
    latitudes: np.ndarray  # [cell]
    longitudes: np.ndarray  # [cell]
    grid_shape: tuple[int, int] | None
    ensemble_size: int
    area_weight: np.ndarray | None = None  # [cell]
    variables_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: dict[str, Any] = field(default_factory=dict)

    def date_indices(self, dates: np.ndarray, *, purpose: str = "the forecast") -> np.ndarray:
        """Positions of ``dates`` in the input; a missing date raises :class:`MissingDateError`."""
        dates = np.asarray(dates, dtype="datetime64[s]")
        positions = np.searchsorted(self.dates, dates)
        positions = np.minimum(positions, self.dates.size - 1)
        missing = dates[self.dates[positions] != dates]
        if missing.size:
            span = f"{self.dates[0]}..{self.dates[-1]}" if self.dates.size else "no dates"
            raise MissingDateError(
                f"input {self.path} lacks {missing.size} date(s) needed for {purpose}: "
                f"{', '.join(str(d) for d in missing[:5])} (the input has {span})"
            )
        return positions

    def check_variables(self, names: list[str], *, purpose: str) -> None:
        missing = [name for name in names if name not in self.variables]
        if missing:
            raise MissingVariableError(
                f"input {self.path} lacks variable(s) {missing} needed for {purpose}; "
                f"the input has {sorted(self.variables)}"
            )

    def read(self, dates: np.ndarray, names: list[str]) -> np.ndarray:
        """Fields ``[time, variable, ensemble, cell]`` float32 at ``dates``."""
        raise NotImplementedError


class DatasetInput(InputSource):
    """A wx dataset store opened with ``wx_datasets.open_dataset``.

    Dates the store records as missing are not offered: asking for one is a missing date.
    """

    def __init__(self, path: str, view: Any, options: dict[str, Any]):
        missing = getattr(view, "missing", None)
        present = np.ones(len(view.dates), bool) if missing is None else ~np.asarray(missing)
        super().__init__(
            path=path,
            kind="wx-dataset",
            variables=list(view.variables),
            dates=np.asarray(view.dates, dtype="datetime64[s]")[present],
            latitudes=np.asarray(view.latitudes, dtype=np.float64),
            longitudes=np.asarray(view.longitudes, dtype=np.float64),
            grid_shape=_regular_shape(view),
            ensemble_size=int(view.ensemble_size),
            area_weight=None if view.area_weight is None else np.asarray(view.area_weight),
            variables_metadata=dict(view.variables_metadata or {}),
            description={
                "path": path,
                "kind": "wx-dataset",
                **options,
                "checksum": (view.metadata or {}).get("checksum"),
            },
        )
        self.view = view
        self.positions = np.flatnonzero(present)  # view index of each offered date

    def read(self, dates: np.ndarray, names: list[str]) -> np.ndarray:
        self.check_variables(names, purpose="this read")
        columns = [self.view.name_to_index[name] for name in names]
        rows = [self.view[int(self.positions[i])][columns] for i in self.date_indices(dates)]
        return np.stack(rows).astype(np.float32, copy=False)  # [time, variable, ensemble, cell]


def _regular_shape(view: Any) -> tuple[int, int] | None:
    grid = (view.metadata or {}).get("grid") or {}
    if grid.get("type") == "regular" and view.grid_shape:
        return tuple(int(n) for n in view.grid_shape)
    return infer_grid_shape(view.latitudes, view.longitudes)


class XarrayInput(InputSource):
    """Any xarray-readable file with a variable mapping."""

    def __init__(self, path: str, dataset: Any, mapping: dict[str, Any] | None, names: list[str]):
        self.dataset = dataset
        self.mapping = dict(mapping or {})
        self.time_dim = _find(dataset.dims, TIME_DIMS, f"{path}: no time dimension", True)
        self.member_dim = _find(dataset.dims, MEMBER_DIMS, "", False)
        latitudes, longitudes, grid_shape, self.spatial_dims = _xarray_grid(path, dataset)
        data_vars = [str(name) for name in dataset.data_vars if name != "area_weight"]
        self.selections = self._resolve_all(path, [*names, *data_vars])
        dates = np.asarray(dataset[self.time_dim].values).astype("datetime64[s]")
        metadata = {name: _units(dataset[sel[0]]) for name, sel in self.selections.items()}
        super().__init__(
            path=path,
            kind="xarray",
            variables=list(self.selections),
            dates=dates,
            latitudes=latitudes,
            longitudes=longitudes,
            grid_shape=grid_shape,
            ensemble_size=int(dataset.sizes[self.member_dim]) if self.member_dim else 1,
            area_weight=_area_weight(dataset, self.spatial_dims),
            variables_metadata=metadata,
            description={"path": path, "kind": "xarray", "variables": self.mapping},
        )
        if np.any(np.diff(self.dates) <= np.timedelta64(0, "s")):
            raise InputError(f"{path}: the {self.time_dim!r} coordinate is not increasing")

    def _resolve_all(self, path: str, names: list[str]) -> dict[str, tuple]:
        """Selections of every wx name that the file holds (others are left out)."""
        selections = {}
        for name in dict.fromkeys(names):
            try:
                selections[name] = self._resolve(path, name)
            except InputError as error:
                LOG.debug("%s", error)
        return selections

    def _resolve(self, path: str, name: str) -> tuple[str, str | None, float | None]:
        """(file variable, level dimension, level value) holding the wx variable ``name``."""
        target = self.mapping.get(name, name)
        level = None
        if isinstance(target, dict):
            target, level = target.get("name", name), target.get("level")
        plain = target in self.dataset.data_vars and level is None
        if plain and _find(self.dataset[target].dims, LEVEL_DIMS, "", False) is None:
            return str(target), None, None
        param, suffix = split_level(str(target))
        if level is None and suffix is not None and param in self.dataset.data_vars:
            target, level = param, suffix
        if target not in self.dataset.data_vars:
            raise InputError(f"{path}: no variable {target!r} for {name!r}")
        dim = _find(self.dataset[target].dims, LEVEL_DIMS, "", False)
        if dim is None or level is None:
            raise InputError(f"{path}: variable {target!r} for {name!r} has no level {level}")
        values = np.asarray(self.dataset[dim].values, dtype=np.float64)
        if not np.any(np.isclose(values, float(level))):
            raise InputError(f"{path}: {target!r} has no level {level} (levels {values.tolist()})")
        return str(target), dim, float(level)

    def read(self, dates: np.ndarray, names: list[str]) -> np.ndarray:
        self.check_variables(names, purpose="this read")
        positions = self.date_indices(dates)
        fields = [self._read_variable(name, positions) for name in names]
        return np.stack(fields, axis=1)  # [time, variable, ensemble, cell]

    def _read_variable(self, name: str, positions: np.ndarray) -> np.ndarray:
        target, level_dim, level = self.selections[name]
        array = self.dataset[target].isel({self.time_dim: positions})
        if level_dim is not None:
            array = array.sel({level_dim: level}, method="nearest")
        member = [self.member_dim] if self.member_dim in array.dims else []
        extra = set(array.dims) - {self.time_dim, *member, *self.spatial_dims}
        if extra:
            raise InputError(f"{self.path}: {target!r} has unexpected dimensions {sorted(extra)}")
        array = array.transpose(self.time_dim, *member, *self.spatial_dims)
        values = np.asarray(array.values, dtype=np.float32)
        values = values.reshape(len(positions), -1 if member else 1, self.latitudes.size)
        return values  # [time, ensemble, cell]


def _find(dims, candidates: tuple[str, ...], message: str, required: bool) -> str | None:
    for name in candidates:
        if name in dims:
            return name
    if required:
        raise InputError(f"{message} (looked for {list(candidates)}, found {list(dims)})")
    return None


def _area_weight(dataset: Any, spatial_dims: tuple[str, ...]) -> np.ndarray | None:
    """An ``area_weight`` variable on the spatial dims, flattened like the fields (or None)."""
    if "area_weight" not in dataset.variables:
        return None
    array = dataset["area_weight"]
    if set(array.dims) != set(spatial_dims):
        return None
    return np.asarray(array.transpose(*spatial_dims).values, dtype=np.float64).reshape(-1)


def _units(array: Any) -> dict[str, Any]:
    units = array.attrs.get("units")
    return {"units": units} if units else {}


def _xarray_grid(path: str, dataset: Any):
    """Flattened cell coordinates, regular shape and the spatial dims of an xarray dataset."""
    lat_name = _find(dataset.variables, LATITUDE_NAMES, f"{path}: no latitude coordinate", True)
    lon_name = _find(dataset.variables, LONGITUDE_NAMES, f"{path}: no longitude coordinate", True)
    lat, lon = dataset[lat_name], dataset[lon_name]
    if lat.ndim == 1 and lon.ndim == 1 and lat.dims != lon.dims:
        nlat, nlon = lat.size, lon.size
        latitudes = np.repeat(np.asarray(lat.values, dtype=np.float64), nlon)
        longitudes = np.tile(np.asarray(lon.values, dtype=np.float64), nlat)
        return latitudes, longitudes, (nlat, nlon), (lat.dims[0], lon.dims[0])
    if lat.ndim == 1 and lat.dims == lon.dims:
        latitudes = np.asarray(lat.values, dtype=np.float64)
        longitudes = np.asarray(lon.values, dtype=np.float64)
        return latitudes, longitudes, infer_grid_shape(latitudes, longitudes), lat.dims
    raise InputError(f"{path}: latitude/longitude must be 1-D coordinates (got {lat.dims})")


XARRAY_ENGINES = {
    ".nc": "netcdf4",
    ".nc4": "netcdf4",
    ".netcdf": "netcdf4",
    ".grib": "cfgrib",
    ".grib2": "cfgrib",
    ".grb": "cfgrib",
    ".grb2": "cfgrib",
}


def is_wx_dataset(path: str) -> bool:
    """True for a local zarr store whose root attributes hold a ``wx-dataset`` header."""
    root = Path(path) / "zarr.json"
    if not root.is_file():
        return False
    attributes = json.loads(root.read_text(encoding="utf-8")).get("attributes", {})
    return (attributes.get("wx") or {}).get("format") == "wx-dataset"


def open_input(spec: str | Path | dict[str, Any], *, names: list[str] | None = None) -> InputSource:
    """Open an input from a path or ``{"path": ..., "variables": {wx: file}, "options": {...}}``.

    ``names`` are the wx variables the caller will read (needed to resolve a file's mapping);
    ``options`` are passed to ``wx_datasets.open_dataset`` (e.g. ``start``, ``end``) for stores.
    """
    spec = {"path": str(spec)} if isinstance(spec, str | Path) else dict(spec)
    if "path" not in spec:
        raise InputError(f"input {spec}: needs a 'path'")
    path = str(spec["path"])
    if "://" not in path and not Path(path).exists():
        raise FileNotFoundError(f"input {path}: no such file or directory")
    if is_wx_dataset(path) or spec.get("format") == "wx-dataset":
        from wx_datasets import open_dataset

        options = dict(spec.get("options") or {})
        return DatasetInput(path, open_dataset(path, **options), options)
    return XarrayInput(
        path, _open_xarray(path, spec.get("format")), spec.get("variables"), list(names or [])
    )


def _open_xarray(path: str, format: str | None) -> Any:
    import xarray as xr

    suffix = Path(path).suffix.lower()
    if format == "zarr" or (format is None and (Path(path).is_dir() or suffix == ".zarr")):
        return xr.open_zarr(path)
    engine = {"netcdf": "netcdf4", "grib": "cfgrib"}.get(format or "", XARRAY_ENGINES.get(suffix))
    if engine is None:
        raise InputError(f"input {path}: unknown format; name it with format: netcdf|grib|zarr")
    kwargs = {"backend_kwargs": {"indexpath": ""}} if engine == "cfgrib" else {}
    try:
        return xr.open_dataset(path, engine=engine, **kwargs)
    except (ValueError, ImportError, RuntimeError) as error:  # e.g. no ecCodes for cfgrib
        raise InputError(f"input {path}: cannot open with engine {engine!r} ({error})") from None
