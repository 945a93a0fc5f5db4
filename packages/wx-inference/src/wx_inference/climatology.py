"""Day-of-year and hour-of-day climatology, and the persistence and climatology baselines.

The climatology follows WeatherBench 2 (Rasp et al. 2024, section 4): for each hour of the day
present in the period and each day of the year (1..366), the mean of the truth over the period
at that hour and on days of the year within a running window centred on the day. The window is
``window_days`` long (default 61, WeatherBench 2's choice), wraps around the year end (day 366
neighbours day 1), and smooths the seasonal cycle estimated from few years. Day of the year is
the calendar's (1 Jan = 1; 1 Mar is 60 in common years and 61 in leap years, as WeatherBench 2).

Baselines scored beside every forecast:
- persistence: the truth at the initial time, for every lead time;
- climatology: the climatology at the valid time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAYS_IN_YEAR = 366
DEFAULT_WINDOW_DAYS = 61


class ClimatologyError(ValueError):
    """A climatology that cannot be computed or looked up."""


@dataclass(frozen=True)
class Climatology:
    """Mean state per day of year and hour of day."""

    hours: np.ndarray  # [hour] int hours of the day present in the period
    values: np.ndarray  # [day_of_year 366, hour, cell] float64, NaN where no sample
    counts: np.ndarray  # [day_of_year 366, hour] samples within each window
    window_days: int
    period: tuple[str, str]

    def at(self, dates: np.ndarray) -> np.ndarray:
        """The climatology ``[time, cell]`` at ``dates`` (datetime64)."""
        day, hour = _day_and_hour(dates)
        position = np.searchsorted(self.hours, hour)
        position = np.minimum(position, len(self.hours) - 1)
        unknown = self.hours[position] != hour
        if np.any(unknown):
            missing = sorted(set(hour[unknown].tolist()))
            raise ClimatologyError(
                f"climatology of period {self.period[0]}..{self.period[1]} has hours "
                f"{self.hours.tolist()} of the day, not {missing}"
            )
        empty = self.counts[day - 1, position] == 0
        if np.any(empty):
            raise ClimatologyError(
                f"climatology of period {self.period[0]}..{self.period[1]} has no sample within "
                f"{self.window_days} days of {np.asarray(dates)[empty][0]}; use a longer period "
                "or window"
            )
        return self.values[day - 1, position]


def _day_and_hour(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    index = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[s]"))
    return np.asarray(index.day_of_year), np.asarray(index.hour)


def compute_climatology(
    dates: np.ndarray, values: np.ndarray, *, window_days: int = DEFAULT_WINDOW_DAYS
) -> Climatology:
    """Climatology of ``values`` ``[time, cell]`` at ``dates`` ``[time]``.

    Sums and counts per (day of year, hour) are smoothed by a circular running sum over
    ``window_days`` days, then divided, so each day's value is the mean of every sample in its
    window.
    """
    values = np.asarray(values, dtype=np.float64)
    dates = np.asarray(dates, dtype="datetime64[s]")
    if values.ndim != 2 or values.shape[0] != dates.size or dates.size == 0:
        raise ClimatologyError(
            f"climatology: values {values.shape} and dates {dates.shape} must be [time, cell] "
            "and [time] with at least one date"
        )
    if window_days < 1 or window_days % 2 == 0 or window_days >= DAYS_IN_YEAR:
        raise ClimatologyError(f"window_days {window_days}: expected an odd number of days 1..365")
    day, hour = _day_and_hour(dates)
    hours = np.unique(hour)
    cells = values.shape[1]
    sums = np.zeros((DAYS_IN_YEAR, hours.size, cells))
    counts = np.zeros((DAYS_IN_YEAR, hours.size))
    hour_position = np.searchsorted(hours, hour)
    np.add.at(sums, (day - 1, hour_position), values)
    np.add.at(counts, (day - 1, hour_position), 1.0)
    smoothed_sums = _circular_running_sum(sums, window_days)
    smoothed_counts = _circular_running_sum(counts, window_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        climatology = smoothed_sums / smoothed_counts[..., None]
    period = (str(dates.min()), str(dates.max()))
    return Climatology(
        hours=hours,
        values=climatology,
        counts=smoothed_counts,
        window_days=window_days,
        period=period,
    )


def _circular_running_sum(values: np.ndarray, window_days: int) -> np.ndarray:
    """Sum over the ``window_days`` days centred on each day of the year (axis 0, wrapping)."""
    half = window_days // 2
    padded = np.concatenate([values[-half:], values, values[:half]]) if half else values
    cumulative = np.concatenate([np.zeros_like(values[:1]), np.cumsum(padded, axis=0)])
    return cumulative[window_days:] - cumulative[:-window_days]


def persistence_forecast(truth_at_init: np.ndarray, lead_count: int) -> np.ndarray:
    """Persistence ``[init, lead, cell]`` from the truth at the initial times ``[init, cell]``."""
    return np.repeat(truth_at_init[:, None, :], lead_count, axis=1)


def climatology_forecast(climatology: Climatology, valid_times: np.ndarray) -> np.ndarray:
    """Climatology ``[init, lead, cell]`` at the valid times ``[init, lead]``."""
    flat = climatology.at(valid_times.reshape(-1))  # [init * lead, cell]
    return flat.reshape(*valid_times.shape, -1)
