"""Grid coordinates from files: netCDF (1-D or 2-D latitude/longitude variables), npz, and wx
dataset stores (zarr v3 with ``latitudes``/``longitudes`` arrays, read through
``wx_datasets.open_dataset`` when wx-datasets is installed, else with zarr directly).

Two 1-D coordinates on different dimensions describe a regular grid and are expanded row-major
(latitude slowest), the order of a ``(lat, lon)`` data variable; coordinates sharing one
dimension, or 2-D coordinates, are taken point by point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wx_graphs.errors import CoordinateError, GraphRecipeError

LATITUDE_NAMES = ("latitudes", "latitude", "lat", "nav_lat")
LONGITUDE_NAMES = ("longitudes", "longitude", "lon", "nav_lon")


def read_coordinate_file(
    path: Path, *, latitude: str | None = None, longitude: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes ``[node]`` (float64 degrees) from a ``.nc`` or ``.npz`` file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: coordinate file not found")
    if path.suffix == ".npz":
        return _read_npz(path, latitude, longitude)
    if path.suffix in (".nc", ".nc4", ".netcdf"):
        return _read_netcdf(path, latitude, longitude)
    raise GraphRecipeError(f"{path}: unknown coordinate file type: expected .nc or .npz")


def _pick(names: list[str], wanted: str | None, defaults: tuple[str, ...], path: Path) -> str:
    candidates = (wanted,) if wanted else defaults
    for name in candidates:
        if name in names:
            return name
    raise KeyError(f"{path}: no variable named {' or '.join(candidates)} (found: {sorted(names)})")


def _read_npz(path: Path, latitude: str | None, longitude: str | None):
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.keys())
        lat = archive[_pick(names, latitude, LATITUDE_NAMES, path)]
        lon = archive[_pick(names, longitude, LONGITUDE_NAMES, path)]
    return _expand(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64), None)


def _read_netcdf(path: Path, latitude: str | None, longitude: str | None):
    import netCDF4

    with netCDF4.Dataset(path) as dataset:
        names = list(dataset.variables)
        lat_var = dataset.variables[_pick(names, latitude, LATITUDE_NAMES, path)]
        lon_var = dataset.variables[_pick(names, longitude, LONGITUDE_NAMES, path)]
        lat = np.ma.filled(np.ma.asarray(lat_var[:], dtype=np.float64), np.nan)
        lon = np.ma.filled(np.ma.asarray(lon_var[:], dtype=np.float64), np.nan)
        same_dimension = lat_var.dimensions == lon_var.dimensions
    return _expand(lat, lon, same_dimension)


def _expand(lat: np.ndarray, lon: np.ndarray, same_dimension: bool | None):
    """Point coordinates ``[node]`` from 1-D axes of a regular grid or matching arrays."""
    if lat.ndim == 1 and lon.ndim == 1 and (same_dimension is False or lat.shape != lon.shape):
        grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
        return grid_lat.ravel(), grid_lon.ravel()
    if lat.shape != lon.shape:
        raise CoordinateError(
            f"latitudes {lat.shape} and longitudes {lon.shape}: expected 1-D axes or equal shapes"
        )
    return lat.ravel(), lon.ravel()


def read_dataset_coordinates(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Cell latitudes and longitudes of a wx dataset store."""
    try:
        from wx_datasets import open_dataset
    except ImportError:
        open_dataset = None
    if open_dataset is not None:
        view = open_dataset(path)
        return np.asarray(view.latitudes, np.float64), np.asarray(view.longitudes, np.float64)
    if "://" not in path and not Path(path).exists():
        raise FileNotFoundError(f"{path}: dataset store not found")
    try:
        import zarr
    except ImportError:
        raise GraphRecipeError(
            f"{path}: reading a dataset store needs wx-datasets or zarr: "
            "pip install 'wx-graphs[datasets]'"
        ) from None
    group = zarr.open_group(path, mode="r")
    arrays = {}
    for name in ("latitudes", "longitudes"):
        if name not in group:
            raise KeyError(f"{path}: dataset store has no {name!r} array")
        arrays[name] = np.asarray(group[name][:], dtype=np.float64)
    return arrays["latitudes"], arrays["longitudes"]
