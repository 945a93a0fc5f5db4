"""Grids of a dataset: cell coordinates, grid type detection, canonical order and area weights.

Regular and Gaussian grids are stored row by row, north to south, longitudes increasing within
a row and wrapped into the recipe's range (``0..360`` by default). A grid whose latitudes are
the Gauss-Legendre nodes (``arcsin`` of the roots of P_n, as in ECMWF's regular Gaussian grids)
is reported as ``gaussian``. Area weights are the spherical areas of latitude bands,
``sin(phi_north) - sin(phi_south)`` with edges midway between rows (clipped at the poles),
times the longitude spacing, normalised to a mean of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wx_datasets.errors import GridMismatchError, SourceError

COORDINATE_TOLERANCE = 1e-6  # degrees


@dataclass(frozen=True)
class Grid:
    kind: str  # "regular" | "gaussian" | "unstructured"
    latitudes: np.ndarray  # [cell] degrees
    longitudes: np.ndarray  # [cell] degrees
    shape: tuple[int, ...] | None  # (nlat, nlon) for regular and Gaussian grids

    @property
    def size(self) -> int:
        return int(self.latitudes.size)

    def describe(self) -> dict:
        if self.shape is None:
            return {"type": self.kind}
        return {"type": self.kind, "shape": list(self.shape)}


@dataclass(frozen=True)
class GridOrder:
    """How to bring a source's (lat, lon) axes into canonical order."""

    latitude_index: np.ndarray  # [nlat] source row of each canonical row
    longitude_index: np.ndarray  # [nlon] source column of each canonical column

    @property
    def identity(self) -> bool:
        return bool(
            np.array_equal(self.latitude_index, np.arange(self.latitude_index.size))
            and np.array_equal(self.longitude_index, np.arange(self.longitude_index.size))
        )

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Reorder the last two axes (lat, lon) of ``values``."""
        if self.identity:
            return values
        return values[..., self.latitude_index, :][..., self.longitude_index]


def wrap_longitudes(longitudes: np.ndarray, convention: str) -> np.ndarray:
    """Longitudes in ``[0, 360)`` or ``[-180, 180)``."""
    origin = 0.0 if convention == "0..360" else -180.0
    wrapped = np.mod(np.asarray(longitudes, dtype=np.float64) - origin, 360.0) + origin
    wrapped[np.isclose(wrapped, origin + 360.0)] = origin
    return wrapped


def rectilinear_grid(
    latitudes: np.ndarray, longitudes: np.ndarray, *, convention: str, label: str
) -> tuple[Grid, GridOrder]:
    """The canonical grid of a source with 1-D latitude and longitude axes, and its reordering."""
    latitudes = np.asarray(latitudes, dtype=np.float64)
    longitudes = wrap_longitudes(longitudes, convention)
    if np.any(np.abs(latitudes) > 90 + COORDINATE_TOLERANCE):
        raise SourceError(f"{label}: latitudes outside -90..90 degrees")
    latitude_index = np.argsort(-latitudes, kind="stable")
    longitude_index = np.argsort(longitudes, kind="stable")
    lat_sorted, lon_sorted = latitudes[latitude_index], longitudes[longitude_index]
    if np.any(np.diff(lat_sorted) == 0):
        raise SourceError(f"{label}: repeated latitudes in the grid")
    if np.any(np.diff(lon_sorted) == 0):
        raise SourceError(
            f"{label}: repeated longitudes once wrapped into {convention} "
            "(e.g. both 0 and 360 present)"
        )
    lat2d, lon2d = np.meshgrid(lat_sorted, lon_sorted, indexing="ij")
    grid = Grid(
        kind=_rectilinear_kind(lat_sorted, lon_sorted),
        latitudes=lat2d.ravel(),
        longitudes=lon2d.ravel(),
        shape=(lat_sorted.size, lon_sorted.size),
    )
    return grid, GridOrder(latitude_index=latitude_index, longitude_index=longitude_index)


def unstructured_grid(latitudes: np.ndarray, longitudes: np.ndarray, *, convention: str) -> Grid:
    return Grid(
        kind="unstructured",
        latitudes=np.asarray(latitudes, dtype=np.float64).ravel(),
        longitudes=wrap_longitudes(np.asarray(longitudes).ravel(), convention),
        shape=None,
    )


def _rectilinear_kind(latitudes: np.ndarray, longitudes: np.ndarray) -> str:
    if latitudes.size > 2 and not _equally_spaced(latitudes) and _is_gaussian(latitudes):
        return "gaussian"
    return "regular"


def _equally_spaced(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return values.size < 3 or bool(np.allclose(steps, steps[0], atol=COORDINATE_TOLERANCE))


def gaussian_latitudes(count: int) -> np.ndarray:
    """Latitudes (degrees, north to south) of the regular Gaussian grid with ``count`` rows."""
    nodes, _weights = np.polynomial.legendre.leggauss(count)
    return np.degrees(np.arcsin(nodes))[::-1]


def _is_gaussian(latitudes: np.ndarray) -> bool:
    return bool(np.allclose(latitudes, gaussian_latitudes(latitudes.size), atol=1e-4))


def area_weights(grid: Grid) -> np.ndarray | None:
    """Normalised (mean 1) spherical cell areas of a rectilinear grid; None if unstructured."""
    if grid.shape is None:
        return None
    nlat, nlon = grid.shape
    rows = grid.latitudes.reshape(nlat, nlon)[:, 0]
    if nlat == 1:
        band = np.ones(1)
    else:
        edges = np.concatenate(
            [
                [rows[0] - (rows[1] - rows[0]) / 2],
                (rows[:-1] + rows[1:]) / 2,
                [rows[-1] + (rows[-1] - rows[-2]) / 2],
            ]
        )
        edges = np.clip(edges, -90.0, 90.0)
        band = np.abs(np.sin(np.radians(edges[:-1])) - np.sin(np.radians(edges[1:])))
    weights = np.repeat(band, nlon)  # [cell]
    return weights / weights.mean()


def check_same_grid(first: Grid, second: Grid, *, first_label: str, second_label: str) -> None:
    """Raise :class:`GridMismatchError` unless two grids have the same cells in the same order."""
    if first.size != second.size or first.shape != second.shape:
        raise GridMismatchError(
            f"grids differ: {first_label} has {first.size} cells (shape {first.shape}), "
            f"{second_label} has {second.size} cells (shape {second.shape})"
        )
    for name in ("latitudes", "longitudes"):
        a, b = getattr(first, name), getattr(second, name)
        wrong = np.flatnonzero(np.abs(a - b) > COORDINATE_TOLERANCE)
        if wrong.size:
            cell = int(wrong[0])
            raise GridMismatchError(
                f"grids differ: {name} of cell {cell} is {a[cell]:g} in {first_label} but "
                f"{b[cell]:g} in {second_label} ({wrong.size} cells differ)"
            )
