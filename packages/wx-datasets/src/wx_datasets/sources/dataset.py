"""Read fields from any ``xarray.Dataset`` (netCDF, GRIB through cfgrib, zarr).

Dimensions are recognised by name: a time axis (``time``, ``valid_time``), a forecast step
(``step``, ``prediction_timedelta``) mapped to valid time = initial time + step, an ensemble
axis (``number``, ``member``), a pressure-level axis (``isobaricInhPa``, ``level``, ``plev``)
expanded into variables ``<param>_<level>`` (hPa), and either 1-D ``latitude``/``longitude``
axes in any order and direction or a cell axis carrying latitude and longitude coordinates.
CF decoding (packed int16 with ``scale_factor``/``add_offset``, ``_FillValue``) is xarray's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from wx_datasets.errors import DateMismatchError, SourceError
from wx_datasets.fields import (
    Source,
    VariableInfo,
    check_increasing,
    level_name,
)
from wx_datasets.grids import rectilinear_grid, unstructured_grid

TIME_DIMS = ("time", "valid_time", "date", "datetime", "t")
STEP_DIMS = ("step", "prediction_timedelta", "lead_time", "leadtime")
ENSEMBLE_DIMS = ("number", "member", "ensemble", "realization", "ens")
LEVEL_DIMS = ("level", "plev", "pressure_level", "pressure", "lev", "isobaric", "air_pressure")
LATITUDE_NAMES = ("latitude", "lat")
LONGITUDE_NAMES = ("longitude", "lon")


@dataclass(frozen=True)
class DatasetOptions:
    variables: tuple[str, ...] | None  # params or <param>_<level> names; None: all
    levels: tuple[float, ...] | None  # pressure levels (hPa) to keep; None: all
    step: int | None  # None: every step mapped to valid time; seconds: only that lead time
    isel: dict  # positional selections applied first, e.g. {"month": 0}
    constant: bool  # every variable is a constant field (a time axis of length 1 is dropped)
    longitudes: str  # "0..360" or "-180..180"


def _find(names: tuple[str, ...], dims) -> str | None:
    for dim in dims:
        if dim in names:
            return dim
    return None


def _is_level_dim(dim: str) -> bool:
    return dim.startswith("isobaricInhPa") or dim in LEVEL_DIMS


class DatasetSource(Source):
    """Fields of one ``xarray.Dataset`` in canonical order."""

    def __init__(self, dataset: xr.Dataset, *, label: str, options: DatasetOptions) -> None:
        self.label = label
        try:
            dataset = dataset.isel(options.isel) if options.isel else dataset
        except (KeyError, ValueError, IndexError) as error:
            raise SourceError(f"{label}: isel {options.isel} failed: {error}") from None
        self._dataset = dataset
        self._options = options
        self._spatial_dims, self.grid, self._order = self._find_grid(dataset)
        self._time_dim = _find(TIME_DIMS, dataset.dims)
        self._member_dim = _find(ENSEMBLE_DIMS, dataset.dims)
        self.ensemble_size = int(dataset.sizes[self._member_dim]) if self._member_dim else 1
        self._params = self._select_params(dataset)
        self._layout = {param: self._param_layout(param) for param in self._params}
        self._no_time = False
        self._setup_dates()
        self.variables = tuple(self._expand_levels())
        self._constants: dict[str, np.ndarray] = {}

    # -- grid ---------------------------------------------------------------------------------

    def _find_grid(self, dataset: xr.Dataset):
        lat_name = _find(LATITUDE_NAMES, list(dataset.coords) + list(dataset.dims))
        lon_name = _find(LONGITUDE_NAMES, list(dataset.coords) + list(dataset.dims))
        if lat_name is None or lon_name is None:
            raise SourceError(
                f"{self.label}: no latitude/longitude coordinates found (looked for "
                f"{', '.join(LATITUDE_NAMES + LONGITUDE_NAMES)}); coordinates present: "
                f"{', '.join(map(str, dataset.coords)) or 'none'}"
            )
        lat, lon = dataset[lat_name], dataset[lon_name]
        if lat.dims == (lat_name,) and lon.dims == (lon_name,):
            grid, order = rectilinear_grid(
                lat.values, lon.values, convention=self._options.longitudes, label=self.label
            )
            return (lat_name, lon_name), grid, order
        if lat.dims == lon.dims and lat.ndim >= 1:
            grid = unstructured_grid(lat.values, lon.values, convention=self._options.longitudes)
            return tuple(lat.dims), grid, None
        raise SourceError(
            f"{self.label}: latitude {lat.dims} and longitude {lon.dims} are neither 1-D axes "
            "nor coordinates on the same cell dimensions"
        )

    # -- variables ------------------------------------------------------------------------------

    def _candidates(self, dataset: xr.Dataset) -> list[str]:
        spatial = set(self._spatial_dims)
        return [str(n) for n, v in dataset.data_vars.items() if spatial <= set(v.dims)]

    def _select_params(self, dataset: xr.Dataset) -> list[str]:
        present = self._candidates(dataset)
        wanted = self._options.variables
        if wanted is None:
            if not present:
                raise SourceError(f"{self.label}: no variable on the latitude/longitude grid")
            return present
        params = []
        for name in wanted:
            param = name if name in present else name.rsplit("_", 1)[0]
            if param not in present:
                raise SourceError(
                    f"{self.label}: variable {name!r} not found; variables present: "
                    f"{', '.join(present)}"
                )
            if param not in params:
                params.append(param)
        return params

    def _param_layout(self, param: str) -> dict:
        variable = self._dataset[param]
        known = {self._time_dim, self._member_dim, *self._spatial_dims, *STEP_DIMS}
        level_dims = [d for d in variable.dims if _is_level_dim(str(d))]
        extra = [d for d in variable.dims if d not in known and d not in level_dims]
        if len(level_dims) > 1 or any(variable.sizes[d] != 1 for d in extra):
            raise SourceError(
                f"{self.label}: variable {param!r} has dimensions {variable.dims}; expected "
                "time, step, ensemble, one pressure level and latitude/longitude dimensions "
                "(select others with 'isel')"
            )
        return {"level_dim": level_dims[0] if level_dims else None, "squeeze": extra}

    def _levels_of(self, param: str) -> list[float] | None:
        level_dim = self._layout[param]["level_dim"]
        if level_dim is None:
            return None
        coordinate = self._dataset[level_dim]
        values = np.asarray(coordinate.values, dtype=np.float64)
        if str(coordinate.attrs.get("units", "")).lower() == "pa":
            values = values / 100.0
        return [float(v) for v in values]

    def _expand_levels(self):
        wanted = self._options.variables
        for param in self._params:
            available = self._levels_of(param)
            attrs = self._dataset[param].attrs
            info = {
                "param": param,
                "units": attrs.get("units"),
                "long_name": attrs.get("long_name") or attrs.get("GRIB_name"),
                "constant": self._is_constant(param),
            }
            if available is None:
                yield VariableInfo(name=param, level=None, **info)
                continue
            for level in self._chosen_levels(param, available, wanted):
                yield VariableInfo(name=level_name(param, level), level=level, **info)

    def _chosen_levels(self, param, available, wanted):
        levels = list(available)
        if self._options.levels is not None:
            absent = [lv for lv in self._options.levels if lv not in available]
            if absent:
                raise SourceError(
                    f"{self.label}: level(s) {absent} of {param!r} not found; levels present: "
                    f"{[int(v) if v.is_integer() else v for v in available]}"
                )
            levels = list(self._options.levels)  # in the order the recipe lists them
        if wanted is not None and param not in wanted:
            named = {level_name(param, lv): lv for lv in available}
            missing = [n for n in wanted if n.startswith(f"{param}_") and n not in named]
            if missing:
                raise SourceError(
                    f"{self.label}: variable {missing[0]!r} not found; levels of {param!r}: "
                    f"{', '.join(named)}"
                )
            levels = [named[n] for n in wanted if n in named]
        return levels

    def _is_constant(self, param: str) -> bool:
        if self._options.constant or self._no_time:
            return True
        has_time = self._time_dim is not None and self._time_dim in self._dataset[param].dims
        return self._time_dim is not None and not has_time

    # -- dates ----------------------------------------------------------------------------------

    def _setup_dates(self) -> None:
        self._step_index: np.ndarray | None = None
        self._step_dim = _find(STEP_DIMS, self._dataset.dims)
        if self._options.constant:
            self._check_constant_time()
            self.dates, self._time_index = None, None
        elif self._time_dim is None:
            self._setup_single_date()
        elif self._step_dim is not None:
            self._setup_steps()
        else:
            self.dates = _as_dates(self._dataset[self._time_dim].values, self.label)
            check_increasing(self.dates, label=self.label)
            self._time_index = np.arange(self.dates.size)

    def _check_constant_time(self) -> None:
        if self._time_dim is not None and self._dataset.sizes[self._time_dim] != 1:
            raise SourceError(
                f"{self.label}: constant fields must not vary in time, but "
                f"{self._time_dim!r} has {self._dataset.sizes[self._time_dim]} values"
            )

    def _setup_single_date(self) -> None:
        for name in ("valid_time", "time", "date"):
            if name in self._dataset.coords and self._dataset[name].ndim == 0:
                date = _as_dates(np.atleast_1d(self._dataset[name].values), self.label)
                if name == "time" and "step" in self._dataset.coords:
                    step = self._dataset["step"].values.astype("timedelta64[s]")
                    date = date + step
                self.dates, self._time_index = date, np.zeros(1, dtype=np.int64)
                return
        self.dates, self._time_index = None, None  # no time at all: only constant fields
        self._no_time = True

    def _setup_steps(self) -> None:
        init = _as_dates(self._dataset[self._time_dim].values, self.label)
        steps = self._dataset[self._step_dim].values.astype("timedelta64[s]")
        if self._options.step is not None:
            chosen = np.timedelta64(self._options.step, "s")
            if chosen not in steps:
                raise SourceError(
                    f"{self.label}: step {self._options.step // 3600}h not found; steps present: "
                    f"{[str(s.astype('timedelta64[h]')) for s in steps]}"
                )
            steps_index = np.array([int(np.flatnonzero(steps == chosen)[0])])
        else:
            steps_index = np.arange(steps.size)
        time_index, step_index = np.meshgrid(np.arange(init.size), steps_index, indexing="ij")
        valid = init[time_index] + steps[step_index]  # [init, step]
        order = np.argsort(valid.ravel(), kind="stable")
        dates = valid.ravel()[order]
        repeated = dates[1:][np.diff(dates).astype(np.int64) == 0]
        if repeated.size:
            raise DateMismatchError(
                f"{self.label}: initial time + step gives the valid time {repeated[0]} more than "
                "once; choose one lead time with the source option 'step' (e.g. step: 6h)"
            )
        self.dates = dates
        self._time_index = time_index.ravel()[order]
        self._step_index = step_index.ravel()[order]

    # -- reading ------------------------------------------------------------------------------

    def load(self, dates: np.ndarray) -> np.ndarray:
        count = len(dates)
        out = np.empty((count, len(self.variables), self.ensemble_size, self.grid.size), np.float32)
        positions = self.positions(dates) if count and self.dates is not None else None
        slot = 0
        for param in self._params:
            width = sum(1 for v in self.variables if v.param == param)
            target = out[:, slot : slot + width]  # [time, level, ensemble, cell]
            if self._is_constant(param):
                target[...] = self._read_constant(param)[None]
            elif count:
                target[...] = self._read_varying(param, positions)
            slot += width
        return out

    def _read_varying(self, param: str, positions: np.ndarray) -> np.ndarray:
        if self._step_index is None:
            return self._read_param(param, {self._time_dim: _indexer(self._time_index[positions])})
        return self._read_by_step(param, positions)

    def _read_constant(self, param: str) -> np.ndarray:
        """A constant field ``[level, ensemble, cell]``, read once."""
        if param not in self._constants:
            self._constants[param] = self._read_param(param, {})[0]
        return self._constants[param]

    def _read_by_step(self, param: str, positions: np.ndarray) -> np.ndarray:
        """One read per lead time: the dates of one step have increasing initial times."""
        times, steps = self._time_index[positions], self._step_index[positions]
        out = None
        for step in np.unique(steps):
            chosen = steps == step
            selection = {self._time_dim: _indexer(times[chosen]), self._step_dim: int(step)}
            values = self._read_param(param, selection)
            if out is None:
                out = np.empty((positions.size, *values.shape[1:]), dtype=np.float32)
            out[chosen] = values
        return out

    def _read_param(self, param: str, selection: dict) -> np.ndarray:
        """One source variable as ``[time, level, ensemble, cell]`` float32 (time may be 1)."""
        array = self._dataset[param]
        layout = self._layout[param]
        selection = {d: i for d, i in selection.items() if d in array.dims}
        if self._time_dim in array.dims and self._options.constant:
            selection[self._time_dim] = [0]
        for dim in layout["squeeze"]:
            selection[dim] = 0
        if self._step_dim in array.dims and self._step_dim not in selection:
            selection[self._step_dim] = 0
        selected = array.isel(selection) if selection else array
        levels = self._level_positions(param)
        if levels is not None:
            selected = selected.isel({layout["level_dim"]: levels})
        values = _as_float32(selected.values)
        order = [
            d for d in (self._time_dim, layout["level_dim"], self._member_dim) if d in selected.dims
        ]
        values = np.transpose(
            values, [selected.dims.index(d) for d in (*order, *self._spatial_dims)]
        )
        if self._time_dim not in selected.dims:
            values = values[None]
        if layout["level_dim"] is None:
            values = values[:, None]
        if self._member_dim not in selected.dims:
            values = values[:, :, None]
        if self._order is not None:
            values = self._order.apply(values)
        values = values.reshape(*values.shape[:3], self.grid.size)  # [time, level, member, cell]
        if values.shape[2] != self.ensemble_size:
            values = np.broadcast_to(
                values, (*values.shape[:2], self.ensemble_size, values.shape[3])
            )
        return values

    def _level_positions(self, param: str) -> list[int] | None:
        available = self._levels_of(param)
        if available is None:
            return None
        wanted = [v.level for v in self.variables if v.param == param]
        return [available.index(level) for level in wanted]


def _indexer(index: np.ndarray):
    """A slice when ``index`` is a contiguous increasing run (one read), else the array."""
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index


def _as_float32(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    if not np.issubdtype(values.dtype, np.number):
        raise SourceError(f"values of dtype {values.dtype} are not numbers")
    return values.astype(np.float32)


def _as_dates(values: np.ndarray, label: str) -> np.ndarray:
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.datetime64):
        raise SourceError(
            f"{label}: time coordinate of dtype {values.dtype} is not decoded to dates "
            "(expected CF 'units' such as 'hours since 1900-01-01')"
        )
    if np.any(np.isnat(values)):
        raise DateMismatchError(f"{label}: the time coordinate contains missing values (NaT)")
    return values.astype("datetime64[s]")
