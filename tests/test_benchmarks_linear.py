"""The per-cell linear reference of benchmarks/linear_ncep.py: stencils, fit and forecast."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
linear = pytest.importorskip("linear_ncep")
FEATURES = 5 * 5 * 5 + 13  # the 5 x 5 stencil at 5 steps, then the 13 harmonics


def synthetic_ar(rate, seed: int):
    """A year of 6-hourly anomalies ``[time, 6, 7]`` decaying at ``rate``, their harmonics."""
    generator = np.random.default_rng(seed)
    first, stop = np.datetime64("2013-01-01T00:00", "s"), np.datetime64("2014-01-01T00:00", "s")
    dates = np.arange(first, stop, np.timedelta64(6, "h"))  # [time]
    anomaly = np.empty((len(dates), 6, 7))  # [time, lat, lon]
    anomaly[0] = generator.normal(size=(6, 7))
    for t in range(1, len(dates)):
        anomaly[t] = rate * anomaly[t - 1] + generator.normal(size=(6, 7))
    latitudes, longitudes = np.meshgrid(
        np.linspace(60, 30, 6), np.linspace(230, 290, 7), indexing="ij"
    )
    return anomaly, linear.harmonics(dates, latitudes, longitudes, annual_harmonics=2), dates


def test_stencils_read_each_cells_neighbours_with_repeated_edges():
    history = np.arange(2 * 5 * 4 * 6, dtype=float).reshape(2, 5, 4, 6)  # [sample, step, lat, lon]
    out = linear.stencils(history)
    width = 2 * linear.RADIUS + 1
    assert out.shape == (2, 4, 6, 5 * width * width)
    block = out.reshape(2, 4, 6, 5, width, width)  # [sample, lat, lon, step, di, dj]
    for i, j, di, dj in [(0, 0, 0, 0), (2, 3, 1, 4), (3, 5, 4, 2), (1, 1, 2, 2)]:
        row = min(max(i + di - linear.RADIUS, 0), 3)
        column = min(max(j + dj - linear.RADIUS, 0), 5)
        np.testing.assert_array_equal(block[:, i, j, :, di, dj], history[:, :, row, column])


def test_fit_recovers_a_per_cell_autoregression_and_forecast_iterates_it():
    # every cell decays towards zero at its own rate: x(t + 6 h) = rate * x(t) + noise
    rates = np.random.default_rng(0).uniform(0.2, 0.7, size=(6, 7))  # [lat, lon]
    anomaly, seasonal, dates = synthetic_ar(rates, seed=0)
    coefficients = linear.fit(anomaly, seasonal, dates)
    assert coefficients.shape == (6, 7, FEATURES)
    centre = linear.RADIUS * (2 * linear.RADIUS + 1) + linear.RADIUS  # step t, offset (0, 0)
    inner = np.s_[linear.RADIUS : -linear.RADIUS, linear.RADIUS : -linear.RADIUS]
    # (at the edges the repeated cells share the coefficient)
    np.testing.assert_allclose(coefficients[inner][..., centre], rates[inner], atol=0.06)
    inits = np.array([100, 500])
    values = linear.forecast(anomaly, seasonal, coefficients, inits)  # [init, lead, lat, lon]
    assert values.shape == (2, linear.LEAD_STEPS, 6, 7)
    # autoregressive: lead 2 from t is lead 1 from t + 6 h with t + 6 h replaced by its forecast
    fed_back = anomaly.copy()
    fed_back[inits + 1] = values[:, 0]
    np.testing.assert_allclose(
        linear.forecast(fed_back, seasonal, coefficients, inits + 1)[:, 0],
        values[:, 1],
        rtol=1e-12,
    )
    # and the fitted decay carries on: by 120 h little of the initial anomaly is left
    assert np.sqrt(np.mean(values[:, -1] ** 2)) < 0.3 * np.sqrt(np.mean(values[:, 0] ** 2))


def test_pooled_fit_shares_one_set_of_coefficients():
    anomaly, seasonal, dates = synthetic_ar(0.5, seed=1)
    coefficients = linear.fit(anomaly, seasonal, dates, pooled=True)
    shared = np.broadcast_to(coefficients[0, 0], (6, 7, FEATURES))
    np.testing.assert_array_equal(coefficients, shared)
    assert not np.allclose(linear.fit(anomaly, seasonal, dates), coefficients)


def test_harmonics_are_the_climatology_basis_at_local_time():
    dates = np.array(["2013-06-21T12:00"], dtype="datetime64[s]")
    latitudes, longitudes = np.array([[40.0, 40.0]]), np.array([[0.0, 180.0]])
    basis = linear.harmonics(dates, latitudes, longitudes, annual_harmonics=2)
    assert basis.shape == (1, 1, 2, 13)  # [time, lat, lon, term]
    np.testing.assert_allclose(basis[..., 0], 1.0)  # the constant
    # 12 UTC is local noon at 0 E and local midnight at 180 E: opposite diurnal cosines
    np.testing.assert_allclose(np.abs(basis[0, 0, :, 5]), 1.0, atol=1e-6)
    np.testing.assert_allclose(basis[0, 0, 0, 5], -basis[0, 0, 1, 5], atol=1e-6)
    # the benchmark's default, one annual harmonic: 11 terms, the diurnal ones two columns on
    one = linear.harmonics(dates, latitudes, longitudes, annual_harmonics=1)
    assert one.shape == (1, 1, 2, 11)
    np.testing.assert_array_equal(one[..., :3], basis[..., :3])
    np.testing.assert_array_equal(one[..., 3:], basis[..., 5:])


def test_date_memory_correlation_is_the_weighted_uncentred_correlation():
    memory = pytest.importorskip("ncep_date_memory")
    generator = np.random.default_rng(3)
    a = generator.normal(size=(20, 5))  # [sample, cell]
    b = generator.normal(size=(20, 5))
    weights = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    assert memory.correlation(a, a, weights) == pytest.approx(1.0)
    assert memory.correlation(a, -2 * a, weights) == pytest.approx(-1.0)
    expected = (a * b * weights).sum() / np.sqrt((a * a * weights).sum() * (b * b * weights).sum())
    assert memory.correlation(a, b, weights) == pytest.approx(expected)
    # uncentred: a constant offset is part of the anomaly, not removed
    assert memory.correlation(a + 10, b + 10, weights) > 0.9
