"""Maps of dataset fields as PNG files, and the ``wx-datasets plot`` subcommand.

``plot_maps`` accepts a store path (opened with ``wx_datasets.open_dataset``), an opened view
(``.variables``, ``.dates``, ``.latitudes``, ``.longitudes``, ``.grid_shape``, ``view[i]`` ->
``[variable, ensemble, cell]``), or an ``xarray.Dataset`` with dimensions ``(time, [member],
latitude, longitude)`` or ``(time, [member|ensemble], cell)``. Fields on a regular or Gaussian
grid are drawn with ``pcolormesh``; unstructured cells as a scatter plot. One PNG per variable,
one panel per time, first member; signed fields (vorticity, winds) get a diverging colour map
centred on zero and every panel of a variable shares one colour scale.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from wx_utils.cli_helpers import add_command

PANELS_PER_ROW = 3


class PlotError(ValueError):
    """A plot request naming a variable, time or input that the dataset does not have."""


@dataclass(frozen=True)
class MapSource:
    """What ``plot_maps`` needs from any input: names, dates, coordinates and a field reader."""

    variables: list[str]
    dates: np.ndarray  # [time] datetime64[s]
    latitudes: np.ndarray  # [cell] degrees
    longitudes: np.ndarray  # [cell] degrees
    grid_shape: tuple[int, int] | None  # (nlat, nlon) when cells are a flattened 2-D grid
    units: dict[str, str]
    members: int
    read: Callable[[str, int, int], np.ndarray]  # (variable, time, member) -> [cell]


def plot_maps(
    store_or_view,
    *,
    variables: Sequence[str],
    times: Sequence[int],
    path: str | os.PathLike,
    member: int = 0,
) -> list[Path]:
    """Write ``<path>/<variable>.png`` with a map per time index; return the files written."""
    source = map_source(store_or_view)
    _check_request(source, variables, times, member)
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for variable in variables:
        fields = [source.read(variable, time, member) for time in times]
        target = directory / f"{variable}.png"
        figure = _figure(source, variable, times, fields)
        partial = target.with_name(f".{target.name}.partial")
        figure.savefig(partial, format="png", dpi=100)
        os.replace(partial, target)  # a reader never sees a half-written PNG
        written.append(target)
    return written


def map_source(store_or_view) -> MapSource:
    """Adapt a store path, an opened view or an ``xarray.Dataset`` to a :class:`MapSource`."""
    if isinstance(store_or_view, str | os.PathLike):
        from wx_datasets import open_dataset  # written alongside; imported when a path is given

        return _from_view(open_dataset(os.fspath(store_or_view)))
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a declared dependency
        xr = None
    if xr is not None and isinstance(store_or_view, xr.Dataset):
        return _from_xarray(store_or_view)
    if hasattr(store_or_view, "name_to_index") and hasattr(store_or_view, "latitudes"):
        return _from_view(store_or_view)
    raise PlotError(
        f"cannot plot a {type(store_or_view).__name__}: expected a dataset store path, a view "
        "from wx_datasets.open_dataset or an xarray.Dataset"
    )


def _from_view(view) -> MapSource:
    shape = getattr(view, "grid_shape", None)
    grid = (getattr(view, "metadata", None) or {}).get("grid", {})
    if shape is None and grid.get("type") in ("regular", "gaussian") and grid.get("shape"):
        shape = tuple(grid["shape"])
    metadata = getattr(view, "variables_metadata", None) or {}

    def read(variable: str, time: int, member: int) -> np.ndarray:
        return np.asarray(view[time][view.name_to_index[variable], member])

    return MapSource(
        variables=list(view.variables),
        dates=np.asarray(view.dates),
        latitudes=np.asarray(view.latitudes, dtype=float),
        longitudes=np.asarray(view.longitudes, dtype=float),
        grid_shape=tuple(int(size) for size in shape) if shape else None,
        units={name: str(metadata.get(name, {}).get("units", "")) for name in view.variables},
        members=int(getattr(view, "ensemble_size", 1)),
        read=read,
    )


def _from_xarray(dataset) -> MapSource:
    gridded = "latitude" in dataset.dims and "longitude" in dataset.dims
    if gridded:
        latitude = dataset["latitude"].values
        longitude = dataset["longitude"].values
        lat2d, lon2d = np.meshgrid(latitude, longitude, indexing="ij")
        latitudes, longitudes = lat2d.ravel(), lon2d.ravel()
        shape = (latitude.size, longitude.size)
    elif "cell" in dataset.dims:
        latitudes = np.asarray(dataset["latitude"].values, dtype=float)
        longitudes = np.asarray(dataset["longitude"].values, dtype=float)
        shape = None
    else:
        raise PlotError(
            f"dataset dimensions {tuple(dataset.dims)}: expected (latitude, longitude) or cell"
        )
    spatial = ("latitude", "longitude") if gridded else ("cell",)

    def read(variable: str, time: int, member: int) -> np.ndarray:
        array = dataset[variable]
        for name in ("member", "ensemble"):
            if name in array.dims:
                array = array.isel({name: member})
        if "time" in array.dims:
            array = array.isel(time=time)
        return np.asarray(array.transpose(*spatial).values, dtype=float).ravel()

    variables = [
        name for name, array in dataset.data_vars.items() if set(spatial) <= set(array.dims)
    ]
    dates = dataset["time"].values if "time" in dataset.coords else np.array([], "datetime64[s]")
    return MapSource(
        variables=variables,
        dates=np.asarray(dates),
        latitudes=latitudes,
        longitudes=longitudes,
        grid_shape=shape,
        units={name: str(dataset[name].attrs.get("units", "")) for name in variables},
        members=max([int(dataset.sizes.get(name, 1)) for name in ("member", "ensemble")]),
        read=read,
    )


def _check_request(
    source: MapSource, variables: Sequence[str], times: Sequence[int], member: int
) -> None:
    if not variables:
        raise PlotError("variables: expected at least one variable name")
    missing = [name for name in variables if name not in source.variables]
    if missing:
        raise PlotError(
            f"variables: {', '.join(missing)} not in the dataset; it has "
            f"{', '.join(source.variables)}"
        )
    if not times:
        raise PlotError("times: expected at least one time index")
    count = len(source.dates)
    bad = [time for time in times if not 0 <= time < count]
    if bad:
        raise PlotError(
            f"times: index {', '.join(map(str, bad))} out of range; the dataset has {count} "
            f"dates (0..{count - 1})"
        )
    if not 0 <= member < source.members:
        raise PlotError(
            f"member {member} out of range; the dataset has {source.members} member"
            f"{'s' if source.members != 1 else ''}"
        )


def _figure(source: MapSource, variable: str, times: Sequence[int], fields) -> Figure:
    columns = min(len(times), PANELS_PER_ROW)
    rows = -(-len(times) // columns)
    figure = Figure(figsize=(4.8 * columns, 2.9 * rows), layout="constrained")
    low = min(float(np.nanmin(field)) for field in fields)
    high = max(float(np.nanmax(field)) for field in fields)
    if low < 0 < high:
        limit = max(-low, high)
        style = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
    else:
        style = {"cmap": "viridis", "vmin": low, "vmax": high}
    units = source.units.get(variable, "")
    for panel, (time, field) in enumerate(zip(times, fields, strict=True)):
        axes = figure.add_subplot(rows, columns, panel + 1)
        image = _draw(axes, source, field, style)
        date = str(source.dates[time])[:16] if len(source.dates) else f"#{time}"
        axes.set_title(f"{variable} at {date}", fontsize=9)
        axes.set_xlim(0, 360) if source.longitudes.min() >= 0 else axes.set_xlim(-180, 180)
        axes.set_ylim(-90, 90)
        axes.set_xlabel("longitude", fontsize=8)
        axes.set_ylabel("latitude", fontsize=8)
        axes.tick_params(labelsize=7)
    colorbar = figure.colorbar(image, ax=figure.axes, shrink=0.9)
    colorbar.set_label(f"{variable} ({units})" if units else variable)
    return figure


def _draw(axes, source: MapSource, field: np.ndarray, style: dict):
    if source.grid_shape is not None:
        shape = source.grid_shape
        latitude = source.latitudes.reshape(shape)[:, 0]
        longitude = source.longitudes.reshape(shape)[0, :]
        return axes.pcolormesh(
            longitude, latitude, field.reshape(shape), shading="nearest", **style
        )
    return axes.scatter(source.longitudes, source.latitudes, c=field, s=4, linewidths=0, **style)


def add_plot_command(commands: argparse._SubParsersAction) -> None:
    """Register ``plot STORE --variables z,vorticity --times 0,40,80 --output DIR``."""
    parser = add_command(
        commands, "plot", _run_plot, help="write PNG maps of some variables at some dates"
    )
    parser.add_argument("store", help="dataset store (path or URL)")
    parser.add_argument("--variables", required=True, help="comma-separated names, e.g. z,u")
    parser.add_argument("--times", default="0", help="comma-separated date indices (default 0)")
    parser.add_argument("--output", required=True, help="directory for the PNG files")
    parser.add_argument("--member", type=int, default=0, help="ensemble member (default 0)")


def _run_plot(args: argparse.Namespace) -> int:
    try:
        times = [int(text) for text in args.times.split(",") if text.strip()]
    except ValueError:
        raise PlotError(f"--times {args.times!r}: expected comma-separated integers") from None
    variables = [name.strip() for name in args.variables.split(",") if name.strip()]
    written = plot_maps(
        args.store, variables=variables, times=times, path=args.output, member=args.member
    )
    for path in written:
        print(path)
    return 0
