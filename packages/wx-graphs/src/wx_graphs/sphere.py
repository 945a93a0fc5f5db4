"""Geometry on the unit sphere: coordinates, distances, rotations and spherical triangle areas.

Positions are unit vectors ``x = cos(lat) cos(lon)``, ``y = cos(lat) sin(lon)``, ``z = sin(lat)``
in float64. A great-circle angle ``d`` and the chord between its ends are related by
``chord = 2 sin(d / 2)``; KD-trees work with chords, attributes report great-circle angles.
The solid angle of a spherical triangle ``(a, b, c)`` follows Van Oosterom and Strackee (1983):
``tan(E / 2) = |a . (b x c)| / (1 + a.b + b.c + c.a)``.
"""

from __future__ import annotations

import numpy as np

from wx_graphs.errors import CoordinateError

EARTH_RADIUS_KM = 6371.0


def check_coordinates(latitudes: np.ndarray, longitudes: np.ndarray, *, source: str) -> None:
    """Raise :class:`CoordinateError` naming ``source`` unless the coordinates are valid degrees."""
    latitudes = np.asarray(latitudes)
    longitudes = np.asarray(longitudes)
    if latitudes.shape != longitudes.shape or latitudes.ndim != 1:
        raise CoordinateError(
            f"{source}: latitudes {latitudes.shape} and longitudes {longitudes.shape} must be "
            "1-D arrays of the same length"
        )
    if latitudes.size == 0:
        raise CoordinateError(f"{source}: no coordinates")
    for name, values in (("latitudes", latitudes), ("longitudes", longitudes)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise CoordinateError(
                f"{source}: {int(bad.sum())} {name} are NaN or infinite "
                f"(first at index {int(np.argmax(bad))})"
            )
    outside = np.abs(latitudes) > 90.0
    if outside.any():
        first = int(np.argmax(outside))
        raise CoordinateError(
            f"{source}: {int(outside.sum())} latitudes outside [-90, 90] degrees "
            f"(first: {latitudes[first]!r} at index {first})"
        )
    outside = (longitudes < -360.0) | (longitudes > 360.0)
    if outside.any():
        first = int(np.argmax(outside))
        raise CoordinateError(
            f"{source}: {int(outside.sum())} longitudes outside [-360, 360] degrees "
            f"(first: {longitudes[first]!r} at index {first})"
        )


def lat_lon_to_xyz(latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    """Unit vectors ``[node, 3]`` (float64) of points given in degrees."""
    lat = np.radians(np.asarray(latitudes, dtype=np.float64))
    lon = np.radians(np.asarray(longitudes, dtype=np.float64))
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def xyz_to_lat_lon(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes in [-90, 90] and longitudes in [0, 360) degrees of vectors ``[node, 3]``."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    latitudes = np.degrees(np.arctan2(z, np.hypot(x, y)))
    longitudes = np.mod(np.degrees(np.arctan2(y, x)), 360.0)
    # mod can round a tiny negative angle up to exactly 360
    longitudes[longitudes >= 360.0] = 0.0
    return latitudes, longitudes


def chord_to_angle(chord: np.ndarray | float) -> np.ndarray | float:
    """Great-circle angle (radians) between unit vectors a chord ``chord`` apart."""
    return 2.0 * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def angle_to_chord(angle: np.ndarray | float) -> np.ndarray | float:
    """Chord between unit vectors a great-circle angle ``angle`` (radians) apart."""
    return 2.0 * np.sin(np.asarray(angle) / 2.0)


def km_to_chord(distance_km: float) -> float:
    """Chord on the unit sphere for a great-circle distance on the Earth in kilometres."""
    return float(angle_to_chord(distance_km / EARTH_RADIUS_KM))


def rotation_about_y(angle: float) -> np.ndarray:
    """The 3x3 matrix rotating column vectors by ``angle`` radians about the y axis."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])


def triangle_solid_angles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Solid angles (steradians) of spherical triangles with unit-vector corners ``[face, 3]``."""
    triple = np.abs(np.einsum("ij,ij->i", a, np.cross(b, c)))
    denominator = (
        1.0
        + np.einsum("ij,ij->i", a, b)
        + np.einsum("ij,ij->i", b, c)
        + np.einsum("ij,ij->i", c, a)
    )
    return 2.0 * np.arctan2(triple, denominator)
