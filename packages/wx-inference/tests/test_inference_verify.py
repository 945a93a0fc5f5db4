"""Scoring forecast files against a truth file, with baselines, masks, ensembles and plots."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from wx_inference import cf, scores
from wx_inference.climatology import compute_climatology
from wx_inference.inputs import MissingDateError, open_input
from wx_inference.output import ForecastLayout, open_forecast, open_writer
from wx_inference.plots import plot_scores
from wx_inference.verify import VerificationError, score_forecast

LATS = np.array([60.0, 50.0, 40.0, 30.0])
LONS = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
TIMES = pd.date_range("2013-12-01", "2014-01-10", freq="6h").values


@pytest.fixture
def truth_path(tmp_path):
    rng = np.random.default_rng(0)
    values = 280 + np.cumsum(rng.normal(size=(TIMES.size, LATS.size, LONS.size)), axis=0)
    dataset = xr.Dataset(
        {"air": (("time", "lat", "lon"), values.astype(np.float32), {"units": "K"})},
        coords={"time": TIMES, "lat": LATS, "lon": LONS},
    )
    path = tmp_path / "truth.nc"
    dataset.to_netcdf(path)
    return path


def write_forecast(path, truth_path, *, members=None, mask=None, offset=0.0, inits=None):
    """A forecast that is persistence of the truth plus ``offset`` (+ member noise)."""
    truth = xr.open_dataset(truth_path)
    inits = np.array(inits or ["2014-01-01", "2014-01-02"], dtype="datetime64[s]")
    leads = np.array([6, 12, 24], dtype="timedelta64[h]").astype("timedelta64[s]")
    layout = ForecastLayout(
        variables=("air",),
        variable_attributes={"air": cf.variable_attributes("air")},
        init_times=inits,
        lead_times=leads,
        latitudes=np.repeat(LATS, LONS.size),
        longitudes=np.tile(LONS, LATS.size),
        grid_shape=(LATS.size, LONS.size),
        members=members,
        interior_mask=mask,
        header={"format": "wx-forecast", "format_version": 1},
    )
    rng = np.random.default_rng(1)
    with open_writer(path, layout) as writer:
        for i, init in enumerate(inits):
            state = truth["air"].sel(time=init).values.reshape(1, -1) + offset  # [variable, cell]
            for j in range(leads.size):
                if members:
                    noise = rng.normal(size=(members, 1, state.shape[-1]))
                    writer.write(i, j, (state[None] + noise).astype(np.float32))
                else:
                    writer.write(i, j, state.astype(np.float32))
        writer.close()
    return open_forecast(path)


def test_persistence_forecast_scores_like_the_persistence_baseline(tmp_path, truth_path):
    forecast = write_forecast(tmp_path / "f.zarr", truth_path)
    table, climatology = score_forecast(forecast, open_input(truth_path), window_days=11)
    model, persistence = table.values["air"]["model"], table.values["air"]["persistence"]
    for metric in ("rmse", "bias", "acc"):
        np.testing.assert_allclose(model[metric], persistence[metric], rtol=1e-6)
    assert set(table.values["air"]) == {"model", "persistence", "climatology"}
    assert "acc" not in table.values["air"]["climatology"]
    assert table.lead_hours.tolist() == [6.0, 12.0, 24.0]
    # the default climatology period is every truth date before the first init
    assert table.metadata["climatology_period"] == ["2013-12-01T00:00:00", "2013-12-31T18:00:00"]
    assert climatology["air"].window_days == 11


def test_scores_match_direct_computation(tmp_path, truth_path):
    forecast = write_forecast(tmp_path / "f.zarr", truth_path, offset=1.5)
    table, _ = score_forecast(forecast, open_input(truth_path), climatology_period="none")
    truth = xr.open_dataset(truth_path)["air"]
    weights = scores.cell_weights(np.repeat(LATS, LONS.size), grid_shape=(4, 5))
    inits = np.array(["2014-01-01", "2014-01-02"], dtype="datetime64[ns]")
    f = np.stack([truth.sel(time=t).values.reshape(-1) + 1.5 for t in inits])
    for lead, hours in enumerate([6, 12, 24]):
        o = np.stack(
            [truth.sel(time=t + np.timedelta64(hours, "h")).values.reshape(-1) for t in inits]
        )
        expected = scores.rmse(f[:, None], o[:, None], weights)[0]
        assert table.values["air"]["model"]["rmse"][lead] == pytest.approx(expected, rel=1e-6)
    assert table.metadata["climatology_period"] is None
    assert "climatology" not in table.values["air"]


def test_interior_mask_limits_the_scored_cells(tmp_path, truth_path):
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 1:4] = True
    full = write_forecast(tmp_path / "a.zarr", truth_path, offset=1.0)
    masked = write_forecast(tmp_path / "b.zarr", truth_path, offset=1.0, mask=mask.reshape(-1))
    truth = open_input(truth_path)
    table_full, _ = score_forecast(full, truth, climatology_period="none")
    table_masked, _ = score_forecast(masked, truth, climatology_period="none")
    assert table_masked.metadata["scored_cells"] == 6
    assert table_full.metadata["scored_cells"] == 20
    assert not np.allclose(
        table_full.values["air"]["persistence"]["rmse"],
        table_masked.values["air"]["persistence"]["rmse"],
    )


def test_area_and_all_cells_choose_the_scored_cells(tmp_path, truth_path):
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 1:4] = True  # latitudes 50 and 40, longitudes 10..30
    masked = write_forecast(tmp_path / "b.zarr", truth_path, offset=1.0, mask=mask.reshape(-1))
    truth = open_input(truth_path)
    everything, _ = score_forecast(masked, truth, climatology_period="none", all_cells=True)
    assert everything.metadata["scored_cells"] == 20 and everything.metadata["all_cells"]
    # the box 55N-35N, 15E-45E holds latitudes 50, 40 and longitudes 20, 30, 40
    boxed, _ = score_forecast(masked, truth, climatology_period="none", area=[55, 15, 35, 45])
    assert boxed.metadata["scored_cells"] == 4  # and the interior mask drops longitude 40
    assert boxed.metadata["scored_area"] == [55.0, 15.0, 35.0, 45.0]
    wide, _ = score_forecast(
        masked, truth, climatology_period="none", area=[55, 15, 35, 45], all_cells=True
    )
    assert wide.metadata["scored_cells"] == 6
    # persistence RMSE over the 4 cells, computed directly
    t = xr.open_dataset(truth_path)["air"]
    inits = np.array(["2014-01-01", "2014-01-02"], dtype="datetime64[ns]")
    rows, cols = np.array([1, 1, 2, 2]), np.array([2, 3, 2, 3])
    weights = scores.cell_weights(np.repeat(LATS, LONS.size), grid_shape=(4, 5))
    weights = weights.reshape(4, 5)[rows, cols]
    later = [t.sel(time=i + np.timedelta64(24, "h")).values[rows, cols] for i in inits]
    errors = np.stack(
        [b - t.sel(time=i).values[rows, cols] for b, i in zip(later, inits, strict=True)]
    )
    expected = np.sqrt(((errors**2 * weights).sum(axis=1) / weights.sum()).mean())
    rmse = boxed.values["air"]["persistence"]["rmse"][2]
    assert rmse == pytest.approx(expected, rel=1e-6)
    with pytest.raises(VerificationError, match=r"area \[10.0, 100.0, 0.0, 120.0\].*no scored"):
        score_forecast(masked, truth, climatology_period="none", area=[10, 100, 0, 120])


def test_ensemble_scores_and_outputs(tmp_path, truth_path):
    forecast = write_forecast(tmp_path / "e.zarr", truth_path, members=3)
    table, _ = score_forecast(
        forecast, open_input(truth_path), climatology_period="2013-12-01/2013-12-31T18"
    )
    model = table.values["air"]["model"]
    assert set(model) == {"rmse", "bias", "acc", "crps", "spread", "spread_skill"}
    np.testing.assert_allclose(model["spread_skill"], model["spread"] / model["rmse"])
    csv_path, json_path = table.write(tmp_path / "scores")
    rows = pd.read_csv(csv_path)
    assert len(rows) == 3 * (6 + 3 + 2)  # leads x (model + persistence + climatology metrics)
    assert json.loads(json_path.read_text())["scores"]["air"]["model"]["crps"] == pytest.approx(
        model["crps"].tolist()
    )
    png = plot_scores(table, "air", tmp_path / "scores" / "air.png", units="K")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scoring_errors(tmp_path, truth_path):
    late = write_forecast(tmp_path / "l.zarr", truth_path, inits=["2014-01-09T12"])
    with pytest.raises(MissingDateError, match="valid times"):
        score_forecast(late, open_input(truth_path))
    early = write_forecast(tmp_path / "e.zarr", truth_path, inits=["2013-12-01"])
    with pytest.raises(VerificationError, match="climatology period"):
        score_forecast(early, open_input(truth_path))


def test_climatology_anomalies_use_the_valid_time(tmp_path, truth_path):
    forecast = write_forecast(tmp_path / "f.zarr", truth_path)
    truth = xr.open_dataset(truth_path)["air"]
    period = truth.sel(time=slice("2013-12-01", "2013-12-31T18"))
    clim = compute_climatology(
        period.time.values, period.values.reshape(period.shape[0], -1), window_days=11
    )
    table, _ = score_forecast(forecast, open_input(truth_path), window_days=11)
    weights = scores.cell_weights(np.repeat(LATS, LONS.size), grid_shape=(4, 5))
    inits = np.array(["2014-01-01", "2014-01-02"], dtype="datetime64[s]")
    valid = inits + np.timedelta64(24, "h")
    o = np.stack([truth.sel(time=t).values.reshape(-1) for t in valid])[:, None]
    c = clim.at(valid)[:, None]
    expected = scores.rmse(c, o, weights)[0]
    assert table.values["air"]["climatology"]["rmse"][2] == pytest.approx(expected)
