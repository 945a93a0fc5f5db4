"""Grid geometry shared by inputs, outputs and scores: regular-grid detection and cell matching.

wx datasets store fields on a flat ``cell`` axis; a regular latitude/longitude grid is flattened
row-major (all longitudes of the first latitude, then the next). Longitudes are compared modulo
360 degrees so that -180..180 and 0..360 conventions match.
"""

from __future__ import annotations

import numpy as np

DEFAULT_TOLERANCE_DEGREES = 1e-4


class GridMismatchError(ValueError):
    """Two grids whose cells do not coincide."""


def infer_grid_shape(latitudes: np.ndarray, longitudes: np.ndarray) -> tuple[int, int] | None:
    """``(nlat, nlon)`` if the cells form a row-major regular grid, else None."""
    latitudes = np.asarray(latitudes, dtype=np.float64)
    longitudes = np.asarray(longitudes, dtype=np.float64)
    cells = latitudes.size
    if cells < 2:
        return None
    changes = np.flatnonzero(np.diff(latitudes) != 0)
    nlon = int(changes[0]) + 1 if changes.size else cells
    if cells % nlon:
        return None
    nlat = cells // nlon
    lat = latitudes.reshape(nlat, nlon)  # [lat, lon]
    lon = longitudes.reshape(nlat, nlon)  # [lat, lon]
    if not np.all(lat == lat[:, :1]) or not np.all(lon == lon[:1, :]):
        return None
    if np.unique(lat[:, 0]).size != nlat or np.unique(lon[0]).size != nlon:
        return None
    return nlat, nlon


def longitude_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference of longitudes in degrees, modulo 360."""
    difference = np.mod(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), 360.0)
    return np.minimum(difference, 360.0 - difference)


def match_cells(
    *,
    expected_latitudes: np.ndarray,
    expected_longitudes: np.ndarray,
    latitudes: np.ndarray,
    longitudes: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE_DEGREES,
    what: str = "input",
) -> np.ndarray | None:
    """Indices into the given cells that reproduce the expected cells, in the expected order.

    Returns None when the cells already coincide in order (no reordering needed); raises
    :class:`GridMismatchError` naming how many expected cells the given grid lacks.
    """
    expected_latitudes = np.asarray(expected_latitudes, dtype=np.float64)
    expected_longitudes = np.asarray(expected_longitudes, dtype=np.float64)
    if expected_latitudes.shape == np.shape(latitudes) and _coincide(
        expected_latitudes, expected_longitudes, latitudes, longitudes, tolerance
    ):
        return None
    lookup = {key: index for index, key in enumerate(_keys(latitudes, longitudes, tolerance))}
    wanted = _keys(expected_latitudes, expected_longitudes, tolerance)
    indices = np.array([lookup.get(key, -1) for key in wanted], dtype=np.int64)
    missing = np.flatnonzero(indices < 0)
    if missing.size:
        first = missing[0]
        raise GridMismatchError(
            f"{what} grid ({np.size(latitudes)} cells) lacks {missing.size} of the "
            f"{expected_latitudes.size} cells the checkpoint needs (within {tolerance} degrees), "
            f"e.g. latitude {expected_latitudes[first]:.4f}, longitude "
            f"{expected_longitudes[first]:.4f}"
        )
    return indices


def _coincide(lat_a, lon_a, lat_b, lon_b, tolerance: float) -> bool:
    return bool(
        np.all(np.abs(lat_a - np.asarray(lat_b)) <= tolerance)
        and np.all(longitude_difference(lon_a, lon_b) <= tolerance)
    )


def _keys(latitudes: np.ndarray, longitudes: np.ndarray, tolerance: float) -> list[tuple]:
    """Coordinates rounded to the tolerance (longitude modulo 360) as hashable keys."""
    scale = 1.0 / tolerance
    lat = np.round(np.asarray(latitudes, dtype=np.float64) * scale).astype(np.int64)
    lon_wrapped = np.mod(np.asarray(longitudes, dtype=np.float64), 360.0)
    lon = np.round(lon_wrapped * scale).astype(np.int64) % round(360.0 * scale)
    return list(zip(lat.tolist(), lon.tolist(), strict=True))
