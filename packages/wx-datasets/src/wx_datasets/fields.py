"""Fields of an input: the common form every source is read into.

A :class:`Source` offers output variables (pressure levels expanded to ``<param>_<level>``), a
canonical :class:`~wx_datasets.grids.Grid`, an ensemble size and the dates it holds, and loads
blocks of dates as ``float32 [time, variable, ensemble, cell]``. Variables without a time axis
are constants: loaded once and repeated over the requested dates.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from wx_datasets.errors import DateMismatchError
from wx_utils.dates import frequency_to_string, to_iso


@dataclass(frozen=True)
class VariableInfo:
    name: str  # output name, e.g. "t_850"
    param: str  # name in the source, e.g. "t"
    level: float | None  # pressure level in hPa, or None
    units: str | None
    long_name: str | None
    constant: bool  # no time axis: the same field at every date

    def metadata(self) -> dict:
        entry: dict = {"param": self.param, "units": self.units}
        if self.level is not None:
            entry["level"] = self.level
        if self.long_name:
            entry["long_name"] = self.long_name
        return entry


class Source(abc.ABC):
    """Something that provides fields on one grid for a set of dates."""

    label: str
    variables: tuple[VariableInfo, ...]
    grid: object  # wx_datasets.grids.Grid
    ensemble_size: int
    dates: np.ndarray | None  # [time] datetime64[s], increasing; None if only constants

    @property
    def names(self) -> list[str]:
        return [variable.name for variable in self.variables]

    @abc.abstractmethod
    def load(self, dates: np.ndarray) -> np.ndarray:
        """Fields at ``dates``: float32 ``[time, variable, ensemble, cell]``."""

    def positions(self, dates: np.ndarray) -> np.ndarray:
        """Index of each of ``dates`` in :attr:`dates`; DateMismatchError naming absent ones."""
        if self.dates is None:
            return np.zeros(len(dates), dtype=np.int64)
        index = np.searchsorted(self.dates, dates)
        index = np.minimum(index, max(self.dates.size - 1, 0))
        absent = self.dates.size == 0 or ~(self.dates[index] == dates)
        absent = np.broadcast_to(absent, np.shape(dates))
        if np.any(absent):
            raise DateMismatchError(describe_absent_dates(self.label, dates[absent], self.dates))
        return index


def describe_absent_dates(label: str, absent: np.ndarray, available: np.ndarray) -> str:
    """An error message for dates an input lacks, with the input's own date spacing."""
    shown = ", ".join(to_iso(d) for d in absent[:5])
    more = f" and {absent.size - 5} more" if absent.size > 5 else ""
    if available.size == 0:
        held = "it holds no dates"
    else:
        held = f"it holds {available.size} dates from {to_iso(available[0])} to {to_iso(available[-1])}"
        spacing = source_frequency(available)
        if spacing is not None:
            held += f" every {spacing}"
    return (
        f"{label}: no data for {absent.size} requested date(s): {shown}{more}; {held}. "
        "Check recipe.dates.frequency and the period, or declare the dates in recipe.dates.missing"
    )


def source_frequency(dates: np.ndarray) -> str | None:
    """The smallest spacing of ``dates`` as a frequency string, or None for a single date."""
    if dates.size < 2:
        return None
    step = np.min(np.diff(dates)).astype("timedelta64[s]")
    return frequency_to_string(step) if step > np.timedelta64(0, "s") else None


def check_increasing(dates: np.ndarray, *, label: str) -> None:
    """Raise :class:`DateMismatchError` on duplicate or decreasing dates."""
    steps = np.diff(dates).astype(np.int64)
    if np.any(steps == 0):
        repeated = np.unique(dates[1:][steps == 0])
        raise DateMismatchError(
            f"{label}: duplicate dates in the time coordinate: "
            + ", ".join(to_iso(d) for d in repeated[:5])
        )
    if np.any(steps < 0):
        where = int(np.flatnonzero(steps < 0)[0])
        raise DateMismatchError(
            f"{label}: dates are not increasing: {to_iso(dates[where])} is followed by "
            f"{to_iso(dates[where + 1])} (index {where + 1})"
        )


def level_name(param: str, level: float) -> str:
    """``<param>_<level>`` with integral levels written without a decimal point."""
    text = str(int(level)) if float(level).is_integer() else f"{level:g}"
    return f"{param}_{text}"


def repeat_constants(values: np.ndarray, count: int) -> np.ndarray:
    """Constant fields ``[variable, ensemble, cell]`` repeated to ``[time, ...]`` (a view)."""
    return np.broadcast_to(values[None], (count, *values.shape))
