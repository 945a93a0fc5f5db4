"""The Python API: steps, forecast, perturbed ensembles, precision, plots of forecast files."""

import numpy as np
import pytest

from wx_inference.cli import main
from wx_inference.forecaster import Forecaster, PrecisionError
from wx_inference.inputs import open_input


@pytest.fixture(scope="module")
def forecaster(ncep_checkpoint):
    return Forecaster.from_checkpoint(ncep_checkpoint)


def test_steps_from_an_initial_state_equal_forecast(forecaster, ncep_store):
    source = open_input(ncep_store)
    state = forecaster.initial_state(source, "2014-01-10T06")
    assert state.history.shape == (1, 2, 1325, 4)  # member, input steps, cell, air + 3 forcings
    np.testing.assert_array_equal(
        state.history[0, 0, :, 0],
        source.read(np.array(["2014-01-10T00"], "datetime64[s]"), ["air"])[0, 0, 0],
    )
    steps = list(forecaster.steps(state, "18h", input=source))
    assert [int(s.lead_time.astype(int)) // 3600 for s in steps] == [6, 12, 18]
    dataset = forecaster.forecast(source, ["2014-01-10T06"], "18h")
    np.testing.assert_array_equal(dataset["air"].values[0, 2].reshape(-1), steps[2].fields[0, 0])


def test_perturbed_members_are_reproducible(forecaster, ncep_store):
    def run(seed):
        return forecaster.forecast(
            ncep_store, ["2014-01-08"], "12h", members=3, perturbation={"scale": 0.5, "seed": seed}
        )["air"].values

    control = forecaster.forecast(ncep_store, ["2014-01-08"], "12h")["air"].values
    first, again, other = run(1), run(1), run(2)
    assert first.shape == (1, 2, 3, 25, 53)
    np.testing.assert_allclose(first[:, :, 0], control, rtol=1e-6)  # member 0 is the control
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[:, :, 1], first[:, :, 0])
    assert not np.allclose(first[:, :, 1], other[:, :, 1])


def test_bf16_precision_stays_close_to_fp32(ncep_checkpoint, ncep_store):
    fp32 = Forecaster.from_checkpoint(ncep_checkpoint).forecast(ncep_store, ["2014-01-08"], "6h")
    bf16 = Forecaster.from_checkpoint(ncep_checkpoint, precision="bf16")
    low = bf16.forecast(ncep_store, ["2014-01-08"], "6h")
    difference = np.abs(low["air"].values - fp32["air"].values)
    assert 0 < difference.max() < 5.0  # K: bf16 keeps 8 bits of mantissa
    with pytest.raises(PrecisionError, match="fp8"):
        Forecaster.from_checkpoint(ncep_checkpoint, precision="fp8")


def test_plot_command_maps_a_forecast_and_replots_scores(
    ncep_checkpoint, ncep_store, tmp_path, shared_data
):
    output = tmp_path / "f.nc"
    assert (
        main(
            [
                "run",
                f"checkpoint={ncep_checkpoint}",
                f"input={ncep_store}",
                "init_dates={start: 2014-01-05, end: 2014-01-06T00, frequency: 12h}",
                "lead_time=12h",
                f"output={output}",
                "format=netcdf",
            ]
        )
        == 0
    )
    maps = tmp_path / "maps"
    assert (
        main(
            [
                "plot",
                str(output),
                "--truth",
                str(shared_data("air_temperature.nc")),
                "--init-time",
                "2014-01-05T12",
                "--leads",
                "12h",
                "--output",
                str(maps),
            ]
        )
        == 0
    )
    assert (maps / "maps_air.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", str(output), "--leads", "5h", "--output", str(maps)]) == 2
    scores = tmp_path / "scores"
    assert (
        main(
            [
                "score",
                str(output),
                "--truth",
                str(ncep_store),
                "--climatology-period",
                "2013-11-01/2013-12-31T18",
                "--map-leads",
                "12h",
                "--output",
                str(scores),
            ]
        )
        == 0
    )
    assert main(["plot", str(scores / "scores.json"), "--output", str(tmp_path / "replot")]) == 0
    assert (tmp_path / "replot" / "scores_air.png").stat().st_size > 0


def test_unstructured_grid_forecast_is_written_and_scored_on_cells(tmp_path):
    import xarray as xr

    import wx_models
    from wx_inference import scores
    from wx_inference.output import open_forecast
    from wx_inference.verify import score_forecast
    from wx_models.debug import random_graph

    stats = {"t": {"mean": 280.0, "stdev": 10.0, "minimum": 200.0, "maximum": 330.0,
                   "tendency_mean": 0.0, "tendency_stdev": 1.0},
             "insolation": {"mean": 0.3, "stdev": 0.3, "minimum": 0.0, "maximum": 1.1}}  # fmt: skip
    model = wx_models.WeatherModel(
        graph=random_graph(grid_nodes=48, mesh_nodes=12),
        variables={"t": "prognostic", "insolation": "forcing"},
        statistics=stats, latent_size=8, processor_layers=1, mlp_hidden_size=8,
    )  # fmt: skip
    checkpoint = wx_models.save_checkpoint(tmp_path / "cells.safetensors", model, metadata={})
    forecaster = Forecaster.from_checkpoint(checkpoint)
    assert forecaster.spec.grid_shape is None
    times = np.datetime64("2020-01-01T00", "s") + np.timedelta64(6, "h") * np.arange(6)
    rng = np.random.default_rng(0)
    truth = xr.Dataset(
        {"t": (("time", "cell"), 280 + rng.normal(size=(6, 48)).cumsum(axis=0)),
         "area_weight": (("cell",), rng.uniform(0.5, 1.5, size=48))},
        coords={"time": times.astype("datetime64[ns]"),
                "latitude": (("cell",), forecaster.spec.latitudes),
                "longitude": (("cell",), forecaster.spec.longitudes)},
    )  # fmt: skip
    truth.to_netcdf(tmp_path / "truth.nc")
    assert main(["run", f"checkpoint={checkpoint}", f"input={tmp_path / 'truth.nc'}",
                 "init_dates=[2020-01-01T00, 2020-01-01T06]", "lead_time=12h",
                 f"output={tmp_path / 'f.zarr'}"]) == 0  # fmt: skip
    forecast = open_forecast(tmp_path / "f.zarr")
    assert forecast["t"].dims == ("init_time", "lead_time", "cell")
    np.testing.assert_allclose(forecast["latitude"].values, forecaster.spec.latitudes)
    table, _ = score_forecast(
        forecast, open_input(tmp_path / "truth.nc"), climatology_period="none"
    )
    weights = truth["area_weight"].values / truth["area_weight"].values.mean()
    valid = forecast["valid_time"].values
    observed = np.stack([[truth["t"].sel(time=t).values for t in row] for row in valid])
    expected = scores.rmse(forecast["t"].values.astype(np.float64), observed, weights)
    np.testing.assert_allclose(table.values["t"]["model"]["rmse"], expected, rtol=1e-5)


def test_grib_input_gives_the_same_fields_as_its_netcdf_twin(shared_data):
    try:
        import cfgrib  # noqa: F401
    except (ImportError, RuntimeError) as error:  # RuntimeError: no ecCodes library
        pytest.skip(f"cfgrib unusable here: {error}")
    from wx_inference.inputs import InputError

    names = ["t_850", "z_500"]
    try:
        grib = open_input(shared_data("era5-levels-members.grib"), names=names)
    except InputError as error:
        pytest.skip(f"cfgrib cannot read GRIB here: {error}")
    netcdf = open_input(shared_data("era5-levels-members.nc"), names=names)
    dates = netcdf.dates[:2]
    np.testing.assert_array_equal(grib.read(dates, names), netcdf.read(dates, names))
    assert grib.ensemble_size == 10 and grib.grid_shape == (61, 120)
