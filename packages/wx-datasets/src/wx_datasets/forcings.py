"""Forcings computed from dates and coordinates, shared by training and inference (numpy only).

Every forcing is a pure function of the valid date and the cell coordinates, so training and
inference compute identical inputs without storing them in the dataset.

- ``cos_julian_day`` / ``sin_julian_day``: the fraction of the year elapsed since 1 January
  00 UTC, as an angle (2π per year of 365 or 366 days).
- ``cos_local_time`` / ``sin_local_time``: local mean solar time ``UTC + longitude / 15°``
  (hours) as an angle (2π per day).
- ``insolation``: top-of-atmosphere incoming solar radiation divided by the solar constant,
  ``(r0 / r)² · max(cos θ, 0)``, with the solar zenith angle ``cos θ = sin φ sin δ + cos φ cos δ
  cos h``. The declination δ, the equation of time (which turns mean into apparent solar time
  for the hour angle h) and the Earth-Sun distance factor ``(r0 / r)²`` follow the Fourier
  series of Spencer (1971), "Fourier series representation of the position of the Sun",
  Search 2(5), 172 (as tabulated in Iqbal, 1983, "An Introduction to Solar Radiation", ch. 1).
  The value is 0 at night and reaches about 1.035 at the subsolar point near perihelion
  (early January), 0.967 near aphelion.
- ``cos_latitude``, ``sin_latitude``, ``cos_longitude``, ``sin_longitude``: the coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

_SECONDS_PER_DAY = 86400.0


def _year_fraction(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1 January 00 UTC (fractional) and the length of that year in days, ``[time]``."""
    seconds = dates.astype("datetime64[s]")
    year_start = seconds.astype("datetime64[Y]")
    next_year = year_start + np.timedelta64(1, "Y")
    elapsed = (seconds - year_start.astype("datetime64[s]")).astype(np.float64) / _SECONDS_PER_DAY
    # Convert to days before subtracting: numpy turns a timedelta in years into 365.2425 days.
    length = (next_year.astype("datetime64[D]") - year_start.astype("datetime64[D]")).astype(
        np.float64
    )
    return elapsed, length


def _utc_hours(dates: np.ndarray) -> np.ndarray:
    """Hours since 00 UTC of the same day, ``[time]``."""
    seconds = dates.astype("datetime64[s]")
    midnight = seconds.astype("datetime64[D]").astype("datetime64[s]")
    return (seconds - midnight).astype(np.float64) / 3600.0


def _day_angle(dates: np.ndarray) -> np.ndarray:
    """Spencer's day angle Γ = 2π (d - 1) / year length in radians, ``[time]``."""
    elapsed, length = _year_fraction(dates)
    return 2.0 * np.pi * elapsed / length


def solar_declination(dates: np.ndarray) -> np.ndarray:
    """Solar declination δ in radians (Spencer 1971, error below 0.0006 rad), ``[time]``."""
    gamma = _day_angle(dates)
    return (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )


def equation_of_time(dates: np.ndarray) -> np.ndarray:
    """Apparent minus mean solar time in minutes (Spencer 1971), ``[time]``."""
    gamma = _day_angle(dates)
    return 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )


def earth_sun_distance_factor(dates: np.ndarray) -> np.ndarray:
    """Eccentricity correction (r0 / r)² (Spencer 1971), ``[time]``."""
    gamma = _day_angle(dates)
    return (
        1.000110
        + 0.034221 * np.cos(gamma)
        + 0.001280 * np.sin(gamma)
        + 0.000719 * np.cos(2 * gamma)
        + 0.000077 * np.sin(2 * gamma)
    )


def cos_solar_zenith(
    dates: np.ndarray, latitudes: np.ndarray, longitudes: np.ndarray
) -> np.ndarray:
    """Cosine of the solar zenith angle, ``[time, cell]`` (negative when the Sun is down)."""
    declination = solar_declination(dates)[:, None]  # [time, 1]
    apparent_hours = (
        _utc_hours(dates)[:, None]
        + longitudes[None, :] / 15.0
        + equation_of_time(dates)[:, None] / 60.0
    )  # [time, cell]
    hour_angle = np.deg2rad(15.0 * (apparent_hours - 12.0))
    phi = np.deg2rad(latitudes)[None, :]  # [1, cell]
    return np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(
        hour_angle
    )


def insolation(dates: np.ndarray, latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    """Top-of-atmosphere solar radiation over the solar constant, ``[time, cell]``."""
    cos_zenith = cos_solar_zenith(dates, latitudes, longitudes)
    return earth_sun_distance_factor(dates)[:, None] * np.maximum(cos_zenith, 0.0)


def local_solar_time(dates: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    """Local mean solar time in hours in [0, 24), ``[time, cell]``."""
    return np.mod(_utc_hours(dates)[:, None] + longitudes[None, :] / 15.0, 24.0)


class _Inputs:
    """Dates and cells of one call, with the angles several forcings share computed once."""

    def __init__(self, dates: np.ndarray, latitudes: np.ndarray, longitudes: np.ndarray) -> None:
        self.dates, self.latitudes, self.longitudes = dates, latitudes, longitudes
        self.shape = (len(dates), len(latitudes))

    @cached_property
    def julian_angle(self) -> np.ndarray:
        elapsed, length = _year_fraction(self.dates)
        return np.broadcast_to(
            (2.0 * np.pi * elapsed / length)[:, None], self.shape
        )  # [time, cell]

    @cached_property
    def local_time_angle(self) -> np.ndarray:
        return 2.0 * np.pi * local_solar_time(self.dates, self.longitudes) / 24.0  # [time, cell]

    def constant(self, values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values[None, :], self.shape)  # [time, cell]


_FORCINGS: dict[str, Callable[[_Inputs], np.ndarray]] = {
    "cos_julian_day": lambda x: np.cos(x.julian_angle),
    "sin_julian_day": lambda x: np.sin(x.julian_angle),
    "cos_local_time": lambda x: np.cos(x.local_time_angle),
    "sin_local_time": lambda x: np.sin(x.local_time_angle),
    "insolation": lambda x: insolation(x.dates, x.latitudes, x.longitudes),
    "cos_latitude": lambda x: x.constant(np.cos(np.deg2rad(x.latitudes))),
    "sin_latitude": lambda x: x.constant(np.sin(np.deg2rad(x.latitudes))),
    "cos_longitude": lambda x: x.constant(np.cos(np.deg2rad(x.longitudes))),
    "sin_longitude": lambda x: x.constant(np.sin(np.deg2rad(x.longitudes))),
}

FORCING_NAMES: tuple[str, ...] = tuple(_FORCINGS)


def is_computed_forcing(name: str) -> bool:
    """Whether ``name`` is a forcing this module computes (rather than a dataset variable)."""
    return name in _FORCINGS


def compute_forcings(
    names: Sequence[str], dates: np.ndarray, latitudes: np.ndarray, longitudes: np.ndarray
) -> np.ndarray:
    """Forcings ``names`` at ``dates`` (datetime64, UTC) on cells, ``[time, forcing, cell]`` float32.

    ``latitudes`` and ``longitudes`` are in degrees, ``[cell]``.
    """
    unknown = [name for name in names if name not in _FORCINGS]
    if unknown:
        raise ValueError(
            f"unknown forcing(s) {unknown}: expected names among {', '.join(FORCING_NAMES)}"
        )
    dates = np.atleast_1d(np.asarray(dates))
    if not np.issubdtype(dates.dtype, np.datetime64):
        raise ValueError(f"dates: expected numpy datetime64 values, got dtype {dates.dtype}")
    latitudes = np.asarray(latitudes, dtype=np.float64).reshape(-1)
    longitudes = np.asarray(longitudes, dtype=np.float64).reshape(-1)
    if latitudes.shape != longitudes.shape:
        raise ValueError(
            f"latitudes {latitudes.shape} and longitudes {longitudes.shape}: expected equal shapes"
        )
    inputs = _Inputs(dates.astype("datetime64[s]"), latitudes, longitudes)
    result = np.empty((len(dates), len(names), len(latitudes)), dtype=np.float32)
    for index, name in enumerate(names):
        result[:, index, :] = _FORCINGS[name](inputs)
    return result
