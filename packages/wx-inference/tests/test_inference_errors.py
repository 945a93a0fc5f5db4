"""Bad inputs: each a specific error before anything is written; nothing already written lost."""

import numpy as np
import pytest
import xarray as xr

from wx_inference.checks import LeadTimeError
from wx_inference.cli import main
from wx_inference.config import ConfigError
from wx_inference.forecaster import Forecaster
from wx_inference.grids import GridMismatchError
from wx_inference.inputs import MissingDateError, MissingVariableError, open_input
from wx_inference.output import OutputExistsError


@pytest.fixture(scope="module")
def forecaster(ncep_checkpoint):
    return Forecaster.from_checkpoint(ncep_checkpoint)


def run_args(checkpoint, store, output, *extra):
    return [
        "run",
        f"checkpoint={checkpoint}",
        f"input={store}",
        "init_dates=[2014-01-05T00]",
        "lead_time=12h",
        f"output={output}",
        *extra,
    ]


def test_input_lacking_a_variable(forecaster, shared_data):
    source = {"path": str(shared_data("air_temperature.nc")), "variables": {"air": "tair"}}
    with pytest.raises(
        MissingVariableError, match=r"lacks \['air'\].*needs.*prognostic: \['air'\]"
    ):
        forecaster.forecast(source, ["2014-01-05"], "12h")


def test_initial_date_not_in_the_input(forecaster, ncep_store):
    source = open_input(ncep_store)
    with pytest.raises(MissingDateError, match="initial date 2015-01-01T00:00:00 is not in input"):
        forecaster.check(source, ["2015-01-01"], "1d")
    with pytest.raises(MissingDateError, match=r"2 input steps every 6h need .*2013-10-31T18"):
        forecaster.check(source, ["2013-11-01T00"], "1d")


def test_lead_time_not_a_multiple_of_the_step(forecaster, ncep_store):
    with pytest.raises(LeadTimeError, match="9h is not a positive multiple .* time step 6h"):
        forecaster.check(open_input(ncep_store), ["2014-01-05"], "9h")


def test_grid_mismatch_lists_both_grids(forecaster, shared_data, tmp_path):
    shifted = xr.open_dataset(shared_data("air_temperature.nc")).isel(time=slice(0, 8))
    shifted = shifted.assign_coords(lon=shifted["lon"] + 1.0)
    path = tmp_path / "shifted.nc"
    shifted.to_netcdf(path)
    with pytest.raises(GridMismatchError, match=r"lacks 1325 of the 1325 cells.*\(25, 53\)"):
        forecaster.check(open_input(path, names=["air"]), ["2013-01-01T12"], "6h")


def test_existing_output_refused_and_kept(ncep_checkpoint, ncep_store, tmp_path, capsys):
    output = tmp_path / "forecast.zarr"
    output.mkdir()
    (output / "precious.txt").write_text("keep me")
    assert main(run_args(ncep_checkpoint, ncep_store, output)) == 2
    assert "exists" in capsys.readouterr().err
    assert (output / "precious.txt").read_text() == "keep me"
    with pytest.raises(OutputExistsError):
        from wx_inference.config import load_run_config
        from wx_inference.run import run_forecast

        run_forecast(load_run_config(None, run_args(ncep_checkpoint, ncep_store, output)[1:]))
    assert main(run_args(ncep_checkpoint, ncep_store, output, "--overwrite")) == 0
    assert not (output / "precious.txt").exists()


def test_bad_runs_leave_nothing_behind(ncep_checkpoint, ncep_store, tmp_path, capsys):
    output = tmp_path / "forecast.zarr"
    assert main(run_args(ncep_checkpoint, ncep_store, output, "lead_time=7h")) == 2
    assert "multiple" in capsys.readouterr().err
    assert main(run_args(ncep_checkpoint, ncep_store, output, "init_dates=[2016-01-01]")) == 2
    assert "initial date 2016-01-01" in capsys.readouterr().err
    assert main(run_args(tmp_path / "missing.safetensors", ncep_store, output)) == 2
    assert "missing.safetensors: no such file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_config_errors_name_the_key(ncep_checkpoint, ncep_store, tmp_path):
    from wx_inference.config import load_run_config

    args = run_args(ncep_checkpoint, ncep_store, tmp_path / "f.zarr")[1:]
    with pytest.raises(ConfigError, match="colour"):
        load_run_config(None, [*args, "colour=blue"])
    with pytest.raises(ConfigError, match=r"missing key\(s\) \['output'\]"):
        load_run_config(None, args[:-1])
    with pytest.raises(ConfigError, match="precision 'fp8'"):
        load_run_config(None, [*args, "precision=fp8"])


def test_interrupted_run_leaves_a_partial_output_only(
    ncep_checkpoint, ncep_store, tmp_path, monkeypatch
):
    from wx_inference.config import load_run_config
    from wx_inference.output import ZarrForecastWriter
    from wx_inference.run import run_forecast

    calls = []
    original = ZarrForecastWriter._write_step

    def failing(self, *args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(ZarrForecastWriter, "_write_step", failing)
    output = tmp_path / "forecast.zarr"
    with pytest.raises(KeyboardInterrupt):
        run_forecast(load_run_config(None, run_args(ncep_checkpoint, ncep_store, output)[1:]))
    assert not output.exists() and (tmp_path / "forecast.zarr.partial").is_dir()
    assert np.isnan(xr.open_zarr(tmp_path / "forecast.zarr.partial")["air"].values[0, 1]).all()
