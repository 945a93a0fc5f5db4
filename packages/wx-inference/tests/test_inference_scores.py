"""Every score against an independent, explicit-loop computation on small arrays."""

import math

import numpy as np
import pandas as pd
import pytest

from wx_inference import scores
from wx_inference.climatology import (
    ClimatologyError,
    climatology_forecast,
    compute_climatology,
    persistence_forecast,
)

INIT, LEAD, MEMBER = 3, 2, 4
LATS = np.array([90.0, 45.0, 0.0, -45.0, -90.0])
LONS = np.array([0.0, 120.0, 240.0])


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    cells = LATS.size * LONS.size
    truth = rng.normal(280, 5, size=(INIT, LEAD, cells))
    forecast = truth + rng.normal(0.5, 2, size=truth.shape)
    ensemble = truth[:, :, None, :] + rng.normal(0, 2, size=(INIT, LEAD, MEMBER, cells))
    climatology = rng.normal(280, 3, size=truth.shape)
    return forecast, truth, ensemble, climatology


def loop_weights():
    """Row weights by hand: bounds halfway between rows, clipped at the poles."""
    bounds = {90.0: (67.5, 90.0), 45.0: (22.5, 67.5), 0.0: (-22.5, 22.5)}
    bounds |= {-45.0: (-67.5, -22.5), -90.0: (-90.0, -67.5)}
    raw = []
    for lat in LATS:
        lower, upper = bounds[lat]
        for _ in LONS:
            raw.append(math.sin(math.radians(upper)) - math.sin(math.radians(lower)))
    total = sum(raw)
    return np.array([w * len(raw) / total for w in raw])


def test_latitude_weights_from_cell_bounds():
    weights = scores.cell_weights(np.repeat(LATS, LONS.size), grid_shape=(5, 3))
    np.testing.assert_allclose(weights, loop_weights(), rtol=1e-12)
    assert weights.mean() == pytest.approx(1.0)
    # a regional grid: the outer bounds lie half a spacing beyond the last rows
    rows = scores.latitude_weights(np.array([75.0, 72.5, 70.0]))
    expected = [
        math.sin(math.radians(u)) - math.sin(math.radians(v))
        for u, v in [(76.25, 73.75), (73.75, 71.25), (71.25, 68.75)]
    ]
    np.testing.assert_allclose(rows, np.array(expected) / np.mean(expected), rtol=1e-12)


def test_unstructured_weights_are_area_weight_normalised():
    area = np.array([1.0, 2.0, 3.0, 2.0])
    weights = scores.cell_weights(np.zeros(4), area_weight=area)
    np.testing.assert_allclose(weights, [0.5, 1.0, 1.5, 1.0])
    with pytest.raises(scores.ScoreError, match="area_weight"):
        scores.cell_weights(np.zeros(4))


def test_rmse_bias_acc_against_loops(arrays):
    forecast, truth, _, climatology = arrays
    w = loop_weights()
    cells = w.size
    for lead in range(LEAD):
        squared, signed, correlation = 0.0, 0.0, 0.0
        for init in range(INIT):
            se = (
                sum(
                    w[c] * (forecast[init, lead, c] - truth[init, lead, c]) ** 2
                    for c in range(cells)
                )
                / cells
            )
            squared += se / INIT
            signed += (
                sum(w[c] * (forecast[init, lead, c] - truth[init, lead, c]) for c in range(cells))
                / cells
                / INIT
            )
            fa = [forecast[init, lead, c] - climatology[init, lead, c] for c in range(cells)]
            oa = [truth[init, lead, c] - climatology[init, lead, c] for c in range(cells)]
            top = sum(w[c] * fa[c] * oa[c] for c in range(cells))
            bottom = math.sqrt(
                sum(w[c] * fa[c] ** 2 for c in range(cells))
                * sum(w[c] * oa[c] ** 2 for c in range(cells))
            )
            correlation += top / bottom / INIT
        assert scores.rmse(forecast, truth, w)[lead] == pytest.approx(math.sqrt(squared))
        assert scores.bias(forecast, truth, w)[lead] == pytest.approx(signed)
        assert scores.acc(forecast, truth, climatology, w)[lead] == pytest.approx(correlation)


def test_rmse_is_sqrt_of_mean_over_init_not_mean_of_sqrt(arrays):
    forecast, truth, _, _ = arrays
    w = np.ones(truth.shape[-1])
    per_init = np.sqrt(((forecast - truth) ** 2).mean(axis=-1)).mean(axis=0)
    assert not np.allclose(scores.rmse(forecast, truth, w), per_init)


def test_crps_fair_against_loops(arrays):
    _, truth, ensemble, _ = arrays
    w = loop_weights()
    cells = w.size
    for lead in range(LEAD):
        total = 0.0
        for init in range(INIT):
            field = 0.0
            for c in range(cells):
                x = [ensemble[init, lead, m, c] for m in range(MEMBER)]
                y = truth[init, lead, c]
                skill = sum(abs(v - y) for v in x) / MEMBER
                pairs = sum(abs(a - b) for a in x for b in x)
                field += w[c] * (skill - pairs / (2 * MEMBER * (MEMBER - 1)))
            total += field / cells / INIT
        assert scores.crps(ensemble, truth, w)[lead] == pytest.approx(total)


def test_crps_of_identical_members_is_absolute_error():
    truth = np.array([[[1.0, -2.0]]])
    ensemble = np.repeat(np.array([[[[3.0, 0.0]]]]), 5, axis=2)  # every member equal
    np.testing.assert_allclose(scores.crps_fair(ensemble, truth), [[[2.0, 2.0]]])


def test_spread_and_spread_skill_against_loops(arrays):
    _, truth, ensemble, _ = arrays
    w = loop_weights()
    cells = w.size
    for lead in range(LEAD):
        variance, error = 0.0, 0.0
        for init in range(INIT):
            for c in range(cells):
                x = [ensemble[init, lead, m, c] for m in range(MEMBER)]
                mean = sum(x) / MEMBER
                variance += w[c] * sum((v - mean) ** 2 for v in x) / (MEMBER - 1) / cells / INIT
                error += w[c] * (mean - truth[init, lead, c]) ** 2 / cells / INIT
        assert scores.spread(ensemble, w)[lead] == pytest.approx(math.sqrt(variance))
        ratio = scores.spread_skill(ensemble, truth, w)[lead]
        assert ratio == pytest.approx(math.sqrt(variance) / math.sqrt(error))
    everything = scores.ensemble_scores(ensemble, truth, w)
    assert set(everything) == {"rmse", "bias", "crps", "spread", "spread_skill"}


def test_score_shape_errors(arrays):
    forecast, truth, ensemble, _ = arrays
    w = np.ones(truth.shape[-1])
    with pytest.raises(scores.ScoreError, match=r"\[init, lead, cell\]"):
        scores.rmse(forecast[:, :1], truth, w)
    with pytest.raises(scores.ScoreError, match="at least 2 members"):
        scores.crps(ensemble[:, :, :1], truth, w)


def test_climatology_against_loops():
    dates = pd.date_range("2013-01-01", "2013-12-31T18", freq="6h").values.astype("datetime64[s]")
    rng = np.random.default_rng(1)
    values = rng.normal(size=(dates.size, 2))
    window = 5
    clim = compute_climatology(dates, values, window_days=window)
    assert clim.hours.tolist() == [0, 6, 12, 18]
    index = pd.DatetimeIndex(dates)
    for day in (1, 2, 100, 365, 366):
        for hour in (0, 18):
            chosen = []
            for i in range(dates.size):
                distance = abs(index[i].day_of_year - day)
                distance = min(distance, 366 - distance)
                if index[i].hour == hour and distance <= window // 2:
                    chosen.append(values[i])
            expected = sum(chosen) / len(chosen)
            target = np.datetime64("2016-01-01T00") + np.timedelta64(day - 1, "D")
            target = target + np.timedelta64(hour, "h")
            np.testing.assert_allclose(clim.at(np.array([target]))[0], expected, rtol=1e-12)
    with pytest.raises(ClimatologyError, match="hours"):
        clim.at(np.array(["2014-01-01T03"], dtype="datetime64[s]"))
    short = compute_climatology(dates[:8], values[:8], window_days=61)  # 1-2 January 2013
    np.testing.assert_allclose(short.at(dates[4:5])[0], values[[0, 4]].mean(axis=0))
    with pytest.raises(ClimatologyError, match="no sample within 61 days"):
        short.at(np.array(["2013-06-01"], dtype="datetime64[s]"))


def test_baselines():
    truth_at_init = np.arange(6.0).reshape(2, 3)
    persistence = persistence_forecast(truth_at_init, 4)
    assert persistence.shape == (2, 4, 3)
    for lead in range(4):
        np.testing.assert_array_equal(persistence[:, lead], truth_at_init)
    dates = pd.date_range("2013-01-01", "2013-12-31", freq="1D").values.astype("datetime64[s]")
    values = np.arange(dates.size, dtype=float)[:, None]
    clim = compute_climatology(dates, values, window_days=3)
    valid = np.array([["2014-02-01", "2014-02-02"]], dtype="datetime64[s]")
    np.testing.assert_array_equal(climatology_forecast(clim, valid)[..., 0], [[31.0, 32.0]])
