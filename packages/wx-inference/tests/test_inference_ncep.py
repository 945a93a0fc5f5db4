"""Real data: a regional checkpoint trained here on NCEP air temperature, forecasting 2014."""

import json

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from wx_inference import scores
from wx_inference.cli import main
from wx_inference.output import open_forecast
from wx_utils.provenance import file_sha256

INITS = ["2014-01-05T00:00", "2014-01-06T00:00"]


@pytest.fixture(scope="module")
def ncep_forecast(ncep_store, ncep_checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ncep-run")
    config = folder / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "checkpoint": str(ncep_checkpoint),
                "input": str(ncep_store),
                "init_dates": INITS,
                "lead_time": "1d",
                "output": str(folder / "forecast.zarr"),
            }
        )
    )
    assert main(["run", str(config), "lead_time=2d"]) == 0
    return folder / "forecast.zarr"


def test_forecast_file_layout_and_provenance(ncep_forecast, ncep_checkpoint, ncep_store):
    forecast = open_forecast(ncep_forecast)
    assert forecast["air"].dims == ("init_time", "lead_time", "latitude", "longitude")
    assert forecast["air"].shape == (2, 8, 25, 53)  # 2 days of 6-hourly steps
    assert forecast["air"].attrs["units"] == "degK"  # from the dataset, via the checkpoint
    assert forecast["air"].attrs["standard_name"] == "air_temperature"
    header = forecast.attrs["wx"]
    assert header["checkpoint"]["sha256"] == file_sha256(ncep_checkpoint)
    assert header["input"]["path"] == str(ncep_store)
    assert header["provenance"]["config"]["lead_time"] == "2d"
    assert header["time_step"] == "6h" and header["input_steps"] == 2
    assert int(forecast["interior_mask"].sum()) == 21 * 49


def test_boundary_cells_come_from_the_analyses(ncep_forecast, shared_data):
    forecast = open_forecast(ncep_forecast)
    truth = xr.open_dataset(shared_data("air_temperature.nc"))["air"]
    boundary = forecast["interior_mask"].values == 0
    for lead in (0, 7):
        valid = forecast["valid_time"].values[1, lead]
        expected = truth.sel(time=valid).values.astype(np.float32)
        np.testing.assert_array_equal(forecast["air"].values[1, lead][boundary], expected[boundary])
        assert not np.array_equal(forecast["air"].values[1, lead][~boundary], expected[~boundary])


def test_scores_against_the_netcdf_truth(ncep_forecast, shared_data, tmp_path):
    truth_path = shared_data("air_temperature.nc")
    output = tmp_path / "scores"
    status = main(
        [
            "score",
            str(ncep_forecast),
            "--truth",
            str(truth_path),
            "--climatology-period",
            "2013-11-01/2013-12-31T18",
            "--map-leads",
            "6h,48h",
            "--output",
            str(output),
        ]
    )
    assert status == 0
    document = json.loads((output / "scores.json").read_text())
    air = document["scores"]["air"]
    assert document["lead_time_hours"] == [6.0 * k for k in range(1, 9)]
    assert document["metadata"]["scored_cells"] == 21 * 49
    assert document["metadata"]["provenance"]["config"]["truth"] == str(truth_path)
    assert document["metadata"]["forecast"]["checkpoint"]["sha256"]
    # persistence RMSE on the interior, computed independently from the netCDF file
    truth = xr.open_dataset(truth_path)["air"]
    interior = open_forecast(ncep_forecast)["interior_mask"].values.astype(bool)
    lat = np.repeat(truth["lat"].values, 53).reshape(25, 53)[interior]
    weights = scores.cell_weights(np.repeat(truth["lat"].values, 53), grid_shape=(25, 53))
    weights = weights.reshape(25, 53)[interior]
    inits = np.array(INITS, dtype="datetime64[ns]")
    at_init = np.stack([truth.sel(time=t).values[interior] for t in inits])
    for lead_index in (0, 7):
        at_valid = np.stack(
            [
                truth.sel(time=t + np.timedelta64(6 * (lead_index + 1), "h")).values[interior]
                for t in inits
            ]
        )
        squared = ((at_init - at_valid) ** 2 * weights / weights.mean()).mean(axis=1)
        assert air["persistence"]["rmse"][lead_index] == pytest.approx(
            np.sqrt(squared.mean()), rel=1e-5
        )
    assert lat.size == 21 * 49
    model = np.array(air["model"]["rmse"])
    assert np.all(np.isfinite(model)) and np.all(model < np.array(air["climatology"]["rmse"]) * 2)
    assert min(air["model"]["acc"]) >= -1 and max(air["model"]["acc"]) <= 1
    for name in ("scores.csv", "scores_air.png", "maps_air.png"):
        assert (output / name).stat().st_size > 0


def test_netcdf_output_matches_zarr_output(
    ncep_forecast, ncep_store, ncep_checkpoint, tmp_path, monkeypatch
):
    path = tmp_path / "forecast.nc"
    threads = []
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    assert (
        main(
            [
                "run",
                "checkpoint=" + str(ncep_checkpoint),
                "input=" + str(ncep_store),
                f"init_dates=[{INITS[1]}]",
                "lead_time=12h",
                f"output={path}",
                "format=netcdf",
                "threads=1",
            ]
        )
        == 0
    )
    assert threads == [1]
    netcdf = open_forecast(path)
    zarr = open_forecast(ncep_forecast)
    np.testing.assert_array_equal(netcdf["air"].values[0], zarr["air"].values[1, :2])


def test_score_area_option(ncep_forecast, shared_data, tmp_path, capsys):
    truth_path = str(shared_data("air_temperature.nc"))
    output = tmp_path / "scores"
    arguments = ["score", str(ncep_forecast), "--truth", truth_path, "--output", str(output)]
    status = main([*arguments, "--climatology-period", "none", "--area", "50/240/30/280"])
    assert status == 0
    metadata = json.loads((output / "scores.json").read_text())["metadata"]
    # latitudes 50, 47.5, ..., 30 (9) by longitudes 240, 242.5, ..., 280 (17), all interior
    assert metadata["scored_cells"] == 9 * 17
    assert metadata["scored_area"] == [50.0, 240.0, 30.0, 280.0]
    with pytest.raises(SystemExit):
        main([*arguments, "--area", "50/240/30"])
    assert "expected NORTH/WEST/SOUTH/EAST" in capsys.readouterr().err
