"""Forecast files: CF-1.10 zarr v3 (default) or netCDF-4, written one step at a time.

Layout: data variables ``(init_time, lead_time, [member], latitude, longitude)`` on a regular
grid (the flat cells reshaped row-major) or ``(init_time, lead_time, [member], cell)`` with
``latitude(cell)``/``longitude(cell)`` coordinates otherwise, a ``valid_time(init_time,
lead_time)`` coordinate, and the wx metadata header (format ``wx-forecast``) holding provenance,
the checkpoint's path and SHA-256 and the input.

Every array is allocated up front with one chunk per (init_time, lead_time), and each step is
written into its region as it is produced, so memory stays flat however long the forecast.
Files are written under ``<output>.partial`` and renamed when complete (the header then says
``complete: true``); an interrupted run leaves only the ``.partial`` name, and an existing
output is replaced (with ``overwrite``) only once the new one is complete.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wx_inference import cf

LOG = logging.getLogger(__name__)
FORECAST_FORMAT = "wx-forecast"
FORECAST_FORMAT_VERSION = 1
FORMATS = ("zarr", "netcdf")


class OutputExistsError(FileExistsError):
    """The output path exists and overwriting was not asked for."""


class OutputFormatError(ValueError):
    """An unknown output format."""


@dataclass(frozen=True)
class ForecastLayout:
    """Everything a forecast file holds except the forecast values."""

    variables: tuple[str, ...]
    variable_attributes: dict[str, dict[str, Any]]
    init_times: np.ndarray  # [init] datetime64[s]
    lead_times: np.ndarray  # [lead] timedelta64[s]
    latitudes: np.ndarray  # [cell] degrees
    longitudes: np.ndarray  # [cell] degrees
    grid_shape: tuple[int, int] | None
    members: int | None = None
    interior_mask: np.ndarray | None = None  # [cell] bool
    header: dict[str, Any] = field(default_factory=dict)
    global_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def spatial_dims(self) -> tuple[str, ...]:
        return ("latitude", "longitude") if self.grid_shape else ("cell",)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.grid_shape) if self.grid_shape else (self.latitudes.size,)

    @property
    def dims(self) -> tuple[str, ...]:
        member = ("member",) if self.members else ()
        return ("init_time", "lead_time", *member, *self.spatial_dims)

    @property
    def step_shape(self) -> tuple[int, ...]:
        """Shape of one (init, lead) step of one variable."""
        member = (self.members,) if self.members else ()
        return (*member, *self.spatial_shape)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.init_times.size, self.lead_times.size, *self.step_shape)

    def coordinates(self) -> dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, Any]]]:
        """Coordinate arrays with dims and CF attributes, times encoded as integers."""
        init_seconds = self.init_times.astype("datetime64[s]").astype(np.int64)
        lead_seconds = self.lead_times.astype("timedelta64[s]").astype(np.int64)
        unit, size = cf.lead_time_unit(lead_seconds.tolist())
        coordinates = {
            "init_time": (("init_time",), init_seconds, cf.INIT_TIME),
            "lead_time": (("lead_time",), lead_seconds // size, cf.lead_time_attributes(unit)),
            "valid_time": (
                ("init_time", "lead_time"),
                init_seconds[:, None] + lead_seconds[None, :],
                cf.VALID_TIME,
            ),
        }
        if self.members:
            coordinates["member"] = (("member",), np.arange(self.members), cf.MEMBER)
        if self.grid_shape:
            nlat, nlon = self.grid_shape
            coordinates["latitude"] = (
                ("latitude",),
                self.latitudes.reshape(nlat, nlon)[:, 0],
                cf.LATITUDE,
            )
            coordinates["longitude"] = (
                ("longitude",),
                self.longitudes.reshape(nlat, nlon)[0],
                cf.LONGITUDE,
            )
        else:
            coordinates["latitude"] = (("cell",), self.latitudes, _no_axis(cf.LATITUDE))
            coordinates["longitude"] = (("cell",), self.longitudes, _no_axis(cf.LONGITUDE))
        return coordinates

    def data_attributes(self, name: str) -> dict[str, Any]:
        coordinates = "valid_time" if self.grid_shape else "valid_time latitude longitude"
        return {**self.variable_attributes[name], "coordinates": coordinates}

    def root_attributes(self, *, complete: bool) -> dict[str, Any]:
        header = {**self.header, "complete": complete}
        return {"Conventions": cf.CONVENTIONS, **self.global_attributes, "wx": header}

    def reshape_cells(self, values: np.ndarray) -> np.ndarray:
        """``[..., cell]`` -> ``[..., latitude, longitude]`` on a regular grid."""
        return values.reshape(*values.shape[:-1], *self.spatial_shape)


def _no_axis(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if key != "axis"}


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def check_output_path(path: str | Path, *, overwrite: bool) -> Path:
    """Refuse an existing output unless ``overwrite``; return the path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"output {path} exists; choose another path or pass overwrite=true (--overwrite)"
        )
    return path


class ForecastWriter:
    """Base of the zarr and netCDF writers: the ``.partial`` then rename life cycle."""

    def __init__(self, *, path: str | Path, layout: ForecastLayout, overwrite: bool = False):
        self.path = check_output_path(path, overwrite=overwrite)
        self.layout = layout
        self.partial = partial_path(self.path)
        self.written = np.zeros((layout.init_times.size, layout.lead_times.size), dtype=bool)
        _remove(self.partial)  # a stale partial is an earlier interrupted run of ours
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create()

    def write(self, init_index: int, lead_index: int, fields: np.ndarray) -> None:
        """Write one step: ``fields`` ``[variable, cell]`` or ``[member, variable, cell]``."""
        expected = (len(self.layout.variables), self.layout.latitudes.size)
        if self.layout.members:
            expected = (self.layout.members, *expected)
        if fields.shape != expected:
            raise ValueError(f"forecast step has shape {fields.shape}, expected {expected}")
        step = {}
        for position, name in enumerate(self.layout.variables):
            values = fields[:, position] if self.layout.members else fields[position]
            step[name] = self.layout.reshape_cells(values).astype(np.float32, copy=False)
        self._write_step(init_index, lead_index, step)
        self.written[init_index, lead_index] = True

    def _write_step(self, init: int, lead: int, step: dict[str, np.ndarray]) -> None:
        for name, values in step.items():
            self._write_variable(name, init, lead, values)

    def close(self) -> Path:
        """Mark complete and move into place (replacing an old output only now)."""
        if not self.written.all():
            missing = int((~self.written).sum())
            raise RuntimeError(f"{self.partial}: {missing} forecast steps were never written")
        self._finish()
        backup = self.path.with_name(self.path.name + ".replaced")
        if self.path.exists():
            _remove(backup)
            self.path.rename(backup)
        self.partial.rename(self.path)
        _remove(backup)
        LOG.info("wrote %s", self.path)
        return self.path

    def abort(self) -> None:
        """Close files and leave the ``.partial`` output as it is (never looks complete)."""
        self._release()
        LOG.warning("forecast interrupted; incomplete output left at %s", self.partial)

    def __enter__(self) -> ForecastWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.abort()

    def _create(self) -> None:
        raise NotImplementedError

    def _write_variable(self, name: str, init: int, lead: int, values: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


class ZarrForecastWriter(ForecastWriter):
    """zarr v3 store; xarray reads it with ``xr.open_zarr``."""

    def _create(self) -> None:
        import zarr

        layout = self.layout
        self.group = zarr.open_group(self.partial, mode="w", zarr_format=3)
        self.group.attrs.update(_jsonable(layout.root_attributes(complete=False)))
        for name, (dims, values, attributes) in layout.coordinates().items():
            array = self.group.create_array(
                name,
                shape=values.shape,
                dtype=values.dtype,
                dimension_names=list(dims),
                attributes=_jsonable(attributes),
            )
            array[...] = values
        chunks = (1, 1, *layout.step_shape)
        self.arrays = {}  # looked up once: group[name] reads the array's metadata every time
        for name in layout.variables:
            self.arrays[name] = self.group.create_array(
                name,
                shape=layout.shape,
                chunks=chunks,
                dtype="float32",
                fill_value=np.nan,
                dimension_names=list(layout.dims),
                attributes=_jsonable(layout.data_attributes(name)),
            )
        if layout.interior_mask is not None:
            mask = layout.reshape_cells(layout.interior_mask.astype(np.int8))
            array = self.group.create_array(
                "interior_mask",
                shape=mask.shape,
                dtype="int8",
                dimension_names=list(layout.spatial_dims),
                attributes=_jsonable(cf.INTERIOR_MASK),
            )
            array[...] = mask

    def _write_step(self, init: int, lead: int, step: dict[str, np.ndarray]) -> None:
        """Every variable's chunk of the step written concurrently on zarr's event loop.

        One synchronous write per variable costs an event-loop round trip each; gathering them
        is several times faster for many small variables. Falls back to plain writes if this
        zarr has no async arrays.
        """
        arrays = {name: getattr(self.arrays[name], "_async_array", None) for name in step}
        if any(array is None for array in arrays.values()):
            super()._write_step(init, lead, step)
            return
        from zarr.core.sync import sync

        async def gather() -> None:
            await asyncio.gather(
                *(arrays[name].setitem((init, lead), values) for name, values in step.items())
            )

        sync(gather())

    def _write_variable(self, name: str, init: int, lead: int, values: np.ndarray) -> None:
        self.arrays[name][init, lead] = values

    def _finish(self) -> None:
        import zarr

        self.group.attrs.update(_jsonable(self.layout.root_attributes(complete=True)))
        with warnings.catch_warnings():  # zarr notes consolidated metadata is not yet in v3 spec
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(self.partial)

    def _release(self) -> None:
        self.group = None


class NetcdfForecastWriter(ForecastWriter):
    """netCDF-4 (HDF5) file through netCDF4; the wx header is a JSON string attribute."""

    def _create(self) -> None:
        import netCDF4

        layout = self.layout
        self.file = netCDF4.Dataset(self.partial, mode="w", format="NETCDF4")
        sizes = dict(zip(layout.dims, layout.shape, strict=True))
        for dim, size in sizes.items():
            self.file.createDimension(dim, size)
        for name, (dims, values, attributes) in layout.coordinates().items():
            variable = self.file.createVariable(name, values.dtype, dims)
            variable.setncatts(_netcdf_attributes(attributes))
            variable[...] = values
        chunks = (1, 1, *layout.step_shape)
        for name in layout.variables:
            variable = self.file.createVariable(
                name,
                "f4",
                layout.dims,
                zlib=True,
                complevel=1,
                chunksizes=chunks,
                fill_value=np.float32(np.nan),
            )
            variable.setncatts(_netcdf_attributes(layout.data_attributes(name)))
        if layout.interior_mask is not None:
            variable = self.file.createVariable("interior_mask", "i1", layout.spatial_dims)
            variable.setncatts(_netcdf_attributes(cf.INTERIOR_MASK))
            variable[...] = layout.reshape_cells(layout.interior_mask.astype(np.int8))
        self.file.setncatts(_netcdf_attributes(layout.root_attributes(complete=False)))

    def _write_variable(self, name: str, init: int, lead: int, values: np.ndarray) -> None:
        self.file.variables[name][init, lead] = values

    def _finish(self) -> None:
        self.file.setncatts(_netcdf_attributes(self.layout.root_attributes(complete=True)))
        self.file.close()
        self.file = None

    def _release(self) -> None:
        if getattr(self, "file", None) is not None:
            self.file.close()
            self.file = None


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so numpy values become plain JSON types."""
    return json.loads(json.dumps(value, default=lambda item: item.tolist()))


def _netcdf_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """netCDF attributes are numbers, strings or 1-D arrays: dicts become JSON strings."""
    result = {}
    for key, value in attributes.items():
        if isinstance(value, dict):
            result[key] = json.dumps(_jsonable(value), sort_keys=True)
        elif isinstance(value, list):
            result[key] = np.asarray(value)
        else:
            result[key] = value
    return result


def open_writer(
    path: str | Path, layout: ForecastLayout, *, format: str = "zarr", overwrite: bool = False
) -> ForecastWriter:
    """A writer for ``format`` (``zarr`` or ``netcdf``)."""
    writers = {"zarr": ZarrForecastWriter, "netcdf": NetcdfForecastWriter}
    if format not in writers:
        raise OutputFormatError(f"output format {format!r}: expected one of {list(FORMATS)}")
    return writers[format](path=path, layout=layout, overwrite=overwrite)


class IncompleteForecastError(ValueError):
    """A forecast file that is not a complete wx forecast."""


def forecast_header(dataset) -> dict[str, Any]:
    """The wx header of an opened forecast (a dict in zarr, a JSON string in netCDF)."""
    header = dataset.attrs.get("wx")
    if isinstance(header, str):
        header = json.loads(header)
    return header or {}


def open_forecast(path: str | Path):
    """Open a complete forecast file with xarray; incomplete or foreign files are refused."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        if partial_path(path).exists():
            raise IncompleteForecastError(
                f"{path}: only {partial_path(path).name} exists, an interrupted forecast"
            )
        raise FileNotFoundError(f"forecast {path}: no such file or directory")
    if path.name.endswith(".partial"):
        raise IncompleteForecastError(f"{path}: a .partial output is an interrupted forecast")
    if path.is_dir():
        dataset = xr.open_zarr(path, decode_timedelta=True)
    else:
        dataset = xr.open_dataset(path, engine="netcdf4", decode_timedelta=True)
    header = forecast_header(dataset)
    if header.get("format") != FORECAST_FORMAT:
        raise IncompleteForecastError(f"{path}: not a wx forecast (no {FORECAST_FORMAT!r} header)")
    if header.get("complete") is not True:
        raise IncompleteForecastError(f"{path}: the forecast is not marked complete")
    dataset.attrs["wx"] = header
    return dataset


def layout_to_dataset(layout: ForecastLayout, values: np.ndarray):
    """An ``xarray.Dataset`` in the file layout from ``values`` ``[init, lead, member, var, cell]``.

    Times are decoded (datetime64/timedelta64) as ``open_forecast`` would return them.
    """
    import xarray as xr

    decoded = {
        "init_time": layout.init_times.astype("datetime64[ns]"),
        "lead_time": layout.lead_times.astype("timedelta64[ns]"),
        "valid_time": (layout.init_times[:, None] + layout.lead_times[None, :]).astype(
            "datetime64[ns]"
        ),
    }
    coordinates = {}
    for name, (dims, data, attributes) in layout.coordinates().items():
        if name in decoded:  # encoding attributes belong to files only
            attributes = {
                k: v for k, v in attributes.items() if k not in ("units", "calendar", "dtype")
            }
            data = decoded[name]
        coordinates[name] = (dims, data, attributes)
    data_vars = {}
    for position, name in enumerate(layout.variables):
        field = values[:, :, :, position]  # [init, lead, member, cell]
        field = field if layout.members else field[:, :, 0]
        attributes = {k: v for k, v in layout.data_attributes(name).items() if k != "coordinates"}
        data_vars[name] = (layout.dims, layout.reshape_cells(field), attributes)
    if layout.interior_mask is not None:
        mask = layout.reshape_cells(layout.interior_mask.astype(np.int8))
        data_vars["interior_mask"] = (layout.spatial_dims, mask, dict(cf.INTERIOR_MASK))
    return xr.Dataset(data_vars, coords=coordinates, attrs=layout.root_attributes(complete=True))
