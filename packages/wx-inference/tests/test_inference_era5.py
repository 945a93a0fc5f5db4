"""Real data: the ERA5 ensemble members (global, member dimension) forecast and scored."""

import json

import numpy as np
import pytest
import xarray as xr
import yaml

from wx_inference import scores
from wx_inference.checks import MembersError
from wx_inference.cli import main
from wx_inference.forecaster import Forecaster
from wx_inference.output import open_forecast


@pytest.fixture(scope="module")
def forecaster(era5_checkpoint):
    return Forecaster.from_checkpoint(era5_checkpoint)


def test_members_come_from_the_input_ensemble(forecaster, shared_data):
    source = str(shared_data("era5-levels-members.nc"))
    dataset = forecaster.forecast(source, ["2017-01-01T00"], "24h")
    assert dataset["t_850"].dims == ("init_time", "lead_time", "member", "latitude", "longitude")
    assert dataset["t_850"].shape == (1, 2, 10, 61, 120)
    assert dataset.attrs["wx"]["checkpoint"]["format_version"] == 1
    # the step generator gives the same numbers, member by member
    steps = list(forecaster.steps("2017-01-01T00", "24h", input=source))
    assert [str(s.valid_time) for s in steps] == ["2017-01-01T12:00:00", "2017-01-02T00:00:00"]
    np.testing.assert_array_equal(
        steps[1].fields[:, 0].reshape(10, 61, 120), dataset["t_850"].values[0, 1]
    )
    spread = dataset["t_850"].values[0, 0].std(axis=0)
    assert spread.mean() > 0.05  # members differ because their analyses differ


def test_one_member_alone_reproduces_its_ensemble_row(forecaster, shared_data, tmp_path):
    source = str(shared_data("era5-levels-members.nc"))
    ensemble = forecaster.forecast(source, ["2017-01-01T00"], "24h")
    single = tmp_path / "member4.nc"
    xr.open_dataset(source).isel(number=4).to_netcdf(single)
    alone = forecaster.forecast(str(single), ["2017-01-01T00"], "24h")
    assert "member" not in alone.dims
    np.testing.assert_allclose(
        alone["z_500"].values[0], ensemble["z_500"].values[0, :, 4], rtol=1e-5
    )
    with pytest.raises(MembersError, match="11 members asked for but input"):
        forecaster.forecast(source, ["2017-01-01T00"], "12h", members=11)


def test_ensemble_forecast_file_scored_with_crps_and_spread_skill(
    era5_checkpoint, shared_data, tmp_path
):
    source = shared_data("era5-levels-members.nc")
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "checkpoint": str(era5_checkpoint),
                "input": {"path": str(source)},
                "init_dates": ["2017-01-01T00:00", "2017-01-01T12:00"],
                "lead_time": "24h",
                "output": str(tmp_path / "ens.zarr"),
                "members": 6,
            }
        )
    )
    assert main(["run", str(config)]) == 0
    forecast = open_forecast(tmp_path / "ens.zarr")
    assert forecast.sizes["member"] == 6
    assert forecast.attrs["wx"]["members"]["source"] == "input ensemble members"
    output = tmp_path / "scores"
    assert (
        main(
            [
                "score",
                str(tmp_path / "ens.zarr"),
                "--truth",
                str(source),
                "--climatology-period",
                "none",
                "--variables",
                "t_850",
                "--map-leads",
                "24h",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    document = json.loads((output / "scores.json").read_text())
    model = document["scores"]["t_850"]["model"]
    assert set(model) == {"rmse", "bias", "crps", "spread", "spread_skill"}
    # CRPS recomputed from the file and the truth's control member (number 0)
    truth = xr.open_dataset(source)["t"].sel(isobaricInhPa=850, number=0)
    ensemble = forecast["t_850"].values.reshape(2, 2, 6, -1).astype(np.float64)
    valid = forecast["valid_time"].values
    observed = np.stack([[truth.sel(time=t).values.reshape(-1) for t in row] for row in valid])
    weights = scores.cell_weights(np.repeat(truth["latitude"].values, 120), grid_shape=(61, 120))
    np.testing.assert_allclose(model["crps"], scores.crps(ensemble, observed, weights), rtol=1e-6)
    np.testing.assert_allclose(
        model["spread_skill"], scores.spread_skill(ensemble, observed, weights), rtol=1e-6
    )
    assert all(value > 0 for value in model["spread_skill"])
    assert (output / "scores_t_850.png").stat().st_size > 0
