import datetime as dt

import numpy as np
import pytest

from wx_utils.dates import (
    DateError,
    date_range,
    frequency_to_string,
    parse_datetime,
    parse_frequency,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6h", 6 * 3600),
        ("1d", 86400),
        ("30min", 1800),
        ("90s", 90),
        ("12 hours", 12 * 3600),
        ("PT6H", 6 * 3600),
        ("P1DT12H", 36 * 3600),
        ("PT30M", 1800),
        ("P1W", 7 * 86400),
        (6, 6 * 3600),
        (dt.timedelta(minutes=15), 900),
        (np.timedelta64(3, "h"), 3 * 3600),
    ],
)
def test_parse_frequency(text, seconds):
    assert parse_frequency(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["6", "six hours", "6y", "P", "PT", "", "-6h", "0h", True, 1.5])
def test_parse_frequency_rejects_bad_strings(bad):
    with pytest.raises(DateError, match="frequency"):
        parse_frequency(bad)


@pytest.mark.parametrize(
    ("value", "text"), [("360min", "6h"), ("PT24H", "1d"), ("90min", "90min"), ("45s", "45s")]
)
def test_frequency_to_string_is_canonical(value, text):
    assert frequency_to_string(value) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-01-01", "2013-01-01T00:00:00"),
        ("2013-01-01T06", "2013-01-01T06:00:00"),
        ("2013-01-01T06:30", "2013-01-01T06:30:00"),
        ("2013-01-01 06:00:00Z", "2013-01-01T06:00:00"),
        ("2013-01-01T06:00:00+02:00", "2013-01-01T04:00:00"),
    ],
)
def test_parse_datetime(text, expected):
    assert parse_datetime(text) == np.datetime64(expected, "s")


@pytest.mark.parametrize("bad", ["2013-13-01", "yesterday", "2013/01/01", 12, np.datetime64("NaT")])
def test_parse_datetime_rejects_bad_values(bad):
    with pytest.raises(DateError, match="datetime"):
        parse_datetime(bad)


def test_date_range_counts_and_values():
    dates = date_range("2013-01-01", "2013-12-31T18", "6h")
    assert len(dates) == 365 * 4
    assert dates.dtype == np.dtype("datetime64[s]")
    assert dates[1] - dates[0] == np.timedelta64(6, "h")
    assert dates[-1] == np.datetime64("2013-12-31T18:00:00")


def test_date_range_single_date():
    assert list(date_range("2014-01-01", "2014-01-01", "1d")) == [np.datetime64("2014-01-01", "s")]


def test_date_range_refuses_end_not_on_step():
    with pytest.raises(DateError, match="not reached"):
        date_range("2013-01-01", "2013-01-01T05", "6h")


def test_date_range_refuses_end_before_start():
    with pytest.raises(DateError, match="before start"):
        date_range("2013-01-02", "2013-01-01", "6h")
