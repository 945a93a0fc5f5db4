"""Latitude-longitude boxes (MARS ``area`` order: north, west, south, east) on the sphere.

A box may cross the antimeridian or the Greenwich meridian (``west`` 200, ``east`` 330 and
``west`` -160, ``east`` -30 are the same box). Margins are great-circle distances in degrees
from the box's sides, so a margin is as wide near the poles as near the equator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from wx_graphs.errors import GraphRecipeError
from wx_graphs.sphere import chord_to_angle, lat_lon_to_xyz

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Area:
    """A box in degrees; ``full_circle`` when it spans every longitude."""

    north: float
    west: float
    south: float
    east: float

    @classmethod
    def parse(cls, value: object, *, key: str) -> Area:
        """An area from ``[north, west, south, east]`` or a mapping with those keys."""
        if isinstance(value, dict):
            missing = {"north", "west", "south", "east"} - set(value)
            if missing:
                raise GraphRecipeError(f"{key}: area lacks {sorted(missing)}")
            value = [value["north"], value["west"], value["south"], value["east"]]
        if not isinstance(value, list | tuple) or len(value) != 4:
            raise GraphRecipeError(f"{key}: area {value!r}: expected [north, west, south, east]")
        try:
            north, west, south, east = (float(v) for v in value)
        except (TypeError, ValueError):
            raise GraphRecipeError(f"{key}: area {value!r}: expected four numbers") from None
        if not all(np.isfinite([north, west, south, east])):
            raise GraphRecipeError(f"{key}: area {value!r}: values must be finite")
        if not -90.0 <= south <= north <= 90.0:
            raise GraphRecipeError(
                f"{key}: area {value!r}: expected -90 <= south <= north <= 90 degrees"
            )
        return cls(north=north, west=west, south=south, east=east)

    @property
    def full_circle(self) -> bool:
        return self.east - self.west >= 360.0 - _TOLERANCE

    def as_list(self) -> list[float]:
        return [self.north, self.west, self.south, self.east]

    def contains(self, latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
        """Mask ``[node]`` of the points inside the box (edges included)."""
        latitudes = np.asarray(latitudes)
        inside = (latitudes >= self.south - _TOLERANCE) & (latitudes <= self.north + _TOLERANCE)
        if self.full_circle:
            return inside
        span = np.mod(self.east - self.west, 360.0)
        offset = np.mod(np.asarray(longitudes) - self.west + _TOLERANCE, 360.0)
        return inside & (offset <= span + 2 * _TOLERANCE)

    def boundary_points(self, step_deg: float) -> tuple[np.ndarray, np.ndarray]:
        """Latitudes and longitudes of points along the box's sides, at most ``step_deg`` apart."""
        span = 360.0 if self.full_circle else float(np.mod(self.east - self.west, 360.0))
        along = self.west + np.linspace(0.0, span, max(2, int(np.ceil(span / step_deg)) + 1))
        up = np.linspace(
            self.south, self.north, max(2, int(np.ceil((self.north - self.south) / step_deg)) + 1)
        )
        latitudes = np.concatenate(
            [np.full_like(along, self.north), np.full_like(along, self.south), up, up]
        )
        longitudes = np.concatenate(
            [along, along, np.full_like(up, self.west), np.full_like(up, self.west + span)]
        )
        return latitudes, longitudes

    def distance_deg(self, latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
        """Great-circle distance in degrees from each point to the box (0 inside).

        Measured to the box's sides sampled every 0.05 degrees (error at most 0.025 degrees).
        """
        inside = self.contains(latitudes, longitudes)
        distance = np.zeros(np.shape(latitudes))
        if inside.all():
            return distance
        side_lat, side_lon = self.boundary_points(0.05)
        tree = cKDTree(lat_lon_to_xyz(side_lat, side_lon))
        outside = ~inside
        chord, _ = tree.query(
            lat_lon_to_xyz(np.asarray(latitudes)[outside], np.asarray(longitudes)[outside])
        )
        distance[outside] = np.degrees(chord_to_angle(chord))
        return distance

    def within(
        self, latitudes: np.ndarray, longitudes: np.ndarray, margin_deg: float
    ) -> np.ndarray:
        """Mask ``[node]`` of the points inside the box or within ``margin_deg`` degrees of it."""
        if margin_deg <= 0:
            return self.contains(latitudes, longitudes)
        return self.distance_deg(latitudes, longitudes) <= margin_deg
