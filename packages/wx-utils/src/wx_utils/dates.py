"""Dates, frequencies and date ranges.

Frequencies are written like ``6h``, ``1d``, ``30min``, ``90s`` or ISO 8601 durations
(``PT6H``, ``P1DT12H``, ``P1W``). Datetimes are ISO 8601 (``2013-01-01``, ``2013-01-01T06:00``,
``2013-01-01 06:00:00Z``) and are handled as ``numpy.datetime64[s]`` in UTC.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "m": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_SHORT = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


class DateError(ValueError):
    """A date, frequency or date range that cannot be understood."""


def parse_frequency(value: str | int | dt.timedelta | np.timedelta64) -> dt.timedelta:
    """A positive frequency as a ``timedelta``; an int is a number of hours."""
    if isinstance(value, dt.timedelta):
        delta = value
    elif isinstance(value, np.timedelta64):
        delta = dt.timedelta(seconds=int(value / np.timedelta64(1, "s")))
    elif isinstance(value, bool):
        raise DateError(f"frequency {value!r}: expected a duration such as '6h', not a boolean")
    elif isinstance(value, int):
        delta = dt.timedelta(hours=value)
    elif isinstance(value, str):
        delta = _parse_frequency_string(value)
    else:
        raise DateError(f"frequency {value!r}: expected a string such as '6h', '1d' or 'PT6H'")
    if delta <= dt.timedelta(0):
        raise DateError(f"frequency {value!r}: must be positive")
    return delta


def _parse_frequency_string(text: str) -> dt.timedelta:
    match = _SHORT.match(text)
    if match and match.group(2).lower() in _UNIT_SECONDS:
        return dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groupdict().values()):
        parts = {k: int(v or 0) for k, v in iso.groupdict().items()}
        return dt.timedelta(
            weeks=parts["w"],
            days=parts["d"],
            hours=parts["h"],
            minutes=parts["m"],
            seconds=parts["s"],
        )
    raise DateError(
        f"frequency {text!r}: expected a number and a unit (e.g. '6h', '1d', '30min', '90s') "
        "or an ISO 8601 duration (e.g. 'PT6H', 'P1D')"
    )


def frequency_to_string(value: str | int | dt.timedelta | np.timedelta64) -> str:
    """The shortest canonical spelling of a frequency: ``6h``, ``1d``, ``30min`` or ``45s``."""
    seconds = int(parse_frequency(value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def frequency_to_timedelta64(value: str | int | dt.timedelta | np.timedelta64) -> np.timedelta64:
    """A frequency as ``numpy.timedelta64`` in seconds."""
    return np.timedelta64(int(parse_frequency(value).total_seconds()), "s")


def parse_datetime(value: str | dt.datetime | dt.date | np.datetime64) -> np.datetime64:
    """A datetime as ``numpy.datetime64[s]`` (UTC); timezone-aware inputs are converted to UTC."""
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise DateError("datetime NaT: expected a valid date")
        return value.astype("datetime64[s]")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return np.datetime64(value.replace(microsecond=0), "s")
    if isinstance(value, dt.date):
        return np.datetime64(dt.datetime(value.year, value.month, value.day), "s")
    if not isinstance(value, str):
        raise DateError(f"datetime {value!r}: expected an ISO 8601 string such as '2013-01-01T06'")
    text = value.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}", text):
        text += ":00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise DateError(
            f"datetime {value!r}: expected ISO 8601 such as '2013-01-01' or '2013-01-01T06:00'"
        ) from None
    return parse_datetime(parsed)


def date_range(
    start: str | np.datetime64 | dt.datetime,
    end: str | np.datetime64 | dt.datetime,
    frequency: str | int | dt.timedelta | np.timedelta64,
) -> np.ndarray:
    """Dates from ``start`` to ``end`` inclusive every ``frequency``, as ``datetime64[s]``.

    ``end`` must be reached exactly: a range that would stop short of it is an error, since a
    silently shortened range is a common source of off-by-one datasets.
    """
    first, last = parse_datetime(start), parse_datetime(end)
    step = frequency_to_timedelta64(frequency)
    if last < first:
        raise DateError(f"date range: end {last} is before start {first}")
    span = (last - first).astype("int64")
    if span % step.astype("int64"):
        raise DateError(
            f"date range: end {last} is not reached from start {first} in steps of "
            f"{frequency_to_string(frequency)}"
        )
    count = span // step.astype("int64") + 1
    return first + step * np.arange(count, dtype="int64")


def to_iso(value: np.datetime64) -> str:
    """``numpy.datetime64`` as ``YYYY-MM-DDTHH:MM:SS``."""
    return str(np.datetime64(value, "s"))
