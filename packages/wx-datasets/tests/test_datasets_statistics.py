"""Streaming statistics (Chan/Welford merge of per-date partials) against numpy, on ERA5 fields."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

from wx_datasets.statistics import constant_fields, date_partials, merge_partials


@pytest.fixture
def era5(shared_data) -> np.ndarray:
    """ERA5 z and t at 500/850 hPa: float32 [time 4, variable 4, member 10, cell 7320]."""
    with xr.open_dataset(shared_data("era5-levels-members.nc")) as source:
        fields = [
            source[p].sel(isobaricInhPa=level).transpose("time", "number", ...).values
            for p in ("z", "t")
            for level in (500.0, 850.0)
        ]
    return np.stack(fields, axis=1).reshape(4, 4, 10, -1).astype(np.float32)


def _partials(values: np.ndarray, present: np.ndarray, split: list[int]) -> np.ndarray:
    """Partials computed block by block as the build does (each block sees the date before)."""
    rows, edges = [], [0, *split, values.shape[0]]
    for first, last in itertools.pairwise(edges):
        previous = values[first - 1] if first > 0 and present[first - 1] else None
        rows.append(date_partials(values[first:last], present[first:last], previous))
    return np.concatenate(rows)


def test_merge_equals_numpy_and_does_not_depend_on_the_split(era5):
    present = np.ones(4, dtype=bool)
    whole = merge_partials(_partials(era5, present, []), in_period=present)
    split = merge_partials(_partials(era5, present, [1, 3]), in_period=present)
    for key in whole:
        assert np.array_equal(whole[key], split[key]), key  # bit for bit
    values = era5.astype(np.float64)
    tendency = np.diff(values, axis=0)
    np.testing.assert_allclose(whole["mean"], values.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(whole["stdev"], values.std(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_array_equal(whole["minimum"], values.min(axis=(0, 2, 3)))
    np.testing.assert_array_equal(whole["maximum"], values.max(axis=(0, 2, 3)))
    np.testing.assert_allclose(whole["tendency_mean"], tendency.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(whole["tendency_stdev"], tendency.std(axis=(0, 2, 3)), rtol=1e-6)
    assert whole["count"].tolist() == [4 * 10 * 7320] * 4


def test_geopotential_stdev_keeps_its_digits(era5):
    """z ~ 5e4 with a relative spread ~1e-2: E[x^2] - E[x]^2 in float32 loses it, Chan does not."""
    z = era5[:, 1:2]  # z_850
    present = np.ones(4, dtype=bool)
    merged = merge_partials(_partials(z, present, [2]), in_period=present)
    exact = z.astype(np.float64).std()
    naive = np.sqrt(np.mean(z * z) - np.mean(z) ** 2)  # float32 textbook formula
    assert merged["stdev"][0] == pytest.approx(exact, rel=1e-9)
    assert abs(naive / exact - 1) > 1e-6


def test_missing_dates_nans_and_period(era5):
    values = era5.copy()
    values[1, 2, 3, :10] = np.nan  # t_500 of member 3 at the second date
    present = np.array([True, True, False, True])
    values[2] = np.nan  # a missing date holds nothing
    in_period = np.array([False, True, True, True])
    merged = merge_partials(_partials(values, present, [2]), in_period=in_period)
    kept = values[[1, 3]].astype(np.float64)
    np.testing.assert_allclose(merged["mean"], np.nanmean(kept, axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(merged["stdev"], np.nanstd(kept, axis=(0, 2, 3)), rtol=1e-6)
    assert merged["count"][2] == 2 * 10 * 7320 - 10
    # tendencies need two consecutive present dates inside the period: none here
    assert merged["tendency_count"].tolist() == [0, 0, 0, 0]
    assert np.isnan(merged["tendency_stdev"]).all()


def test_constant_fields_are_detected(era5):
    values = era5.copy()
    values[:, 0] = values[0, 0]  # z_500 frozen in time
    values[:, 3] = 250.0  # one value everywhere
    present = np.ones(4, dtype=bool)
    merged = merge_partials(_partials(values, present, [1]), in_period=present)
    found = constant_fields(merged, ["z_500", "z_850", "t_500", "t_850"])
    assert found == {"constant_value": ["t_850"], "constant_in_time": ["z_500", "t_850"]}
