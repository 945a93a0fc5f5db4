"""Forecast files: CF attributes, dims, step-by-step writes, .partial life cycle, overwrite."""

import json

import netCDF4
import numpy as np
import pytest

from wx_inference import cf
from wx_inference.output import (
    ForecastLayout,
    IncompleteForecastError,
    OutputExistsError,
    open_forecast,
    open_writer,
)

LAT = np.repeat([10.0, 0.0, -10.0], 4)
LON = np.tile([0.0, 90.0, 180.0, 270.0], 3)


def layout(*, members=None, grid_shape=(3, 4), mask=None):
    return ForecastLayout(
        variables=("t_850", "h"),
        variable_attributes={
            "t_850": cf.variable_attributes("t_850", {"units": "K"}),
            "h": cf.variable_attributes("h", {"units": "m"}),
        },
        init_times=np.array(["2014-01-01", "2014-01-02T12"], dtype="datetime64[s]"),
        lead_times=np.array([6, 12, 18], dtype="timedelta64[h]").astype("timedelta64[s]"),
        latitudes=LAT,
        longitudes=LON,
        grid_shape=grid_shape,
        members=members,
        interior_mask=mask,
        header={"format": "wx-forecast", "format_version": 1, "checkpoint": {"sha256": "ab"}},
        global_attributes={"title": "test forecast"},
    )


def step_values(init, lead, members=None):
    base = np.arange(2 * 12, dtype=np.float32).reshape(2, 12) + 100 * init + 10 * lead
    return base if members is None else np.stack([base + m for m in range(members)])


def write_all(path, the_layout, fmt, members=None):
    writer = open_writer(path, the_layout, format=fmt)
    for init in range(2):
        for lead in range(3):
            writer.write(init, lead, step_values(init, lead, members))
    return writer.close()


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_regular_grid_round_trip_with_cf_attributes(tmp_path, fmt):
    path = write_all(tmp_path / f"forecast.{fmt}", layout(members=2), fmt, members=2)
    dataset = open_forecast(path)
    assert dataset["t_850"].dims == ("init_time", "lead_time", "member", "latitude", "longitude")
    np.testing.assert_array_equal(
        dataset["h"].values[1, 2, 1], step_values(1, 2, 2)[1, 1].reshape(3, 4)
    )
    assert dataset.attrs["Conventions"] == "CF-1.10"
    assert dataset.attrs["wx"]["complete"] is True
    assert dataset.attrs["wx"]["checkpoint"] == {"sha256": "ab"}
    assert dataset["t_850"].attrs["standard_name"] == "air_temperature"
    assert dataset["t_850"].attrs["units"] == "K"
    assert dataset["latitude"].attrs["units"] == "degrees_north"
    assert dataset["longitude"].attrs["units"] == "degrees_east"
    assert dataset["lead_time"].values[2] == np.timedelta64(18, "h")
    assert str(dataset["valid_time"].values[1, 0])[:19] == "2014-01-02T18:00:00"
    assert dataset["member"].attrs["standard_name"] == "realization"
    encoding = dataset["t_850"].encoding
    assert tuple(encoding.get("chunks") or encoding["chunksizes"])[:2] == (1, 1)


def test_netcdf_is_cf_for_plain_netcdf4_readers(tmp_path):
    path = write_all(tmp_path / "forecast.nc", layout(), "netcdf")
    with netCDF4.Dataset(path) as handle:
        assert handle.Conventions == "CF-1.10"
        assert handle["init_time"].units == "seconds since 1970-01-01 00:00:00"
        assert handle["init_time"].standard_name == "forecast_reference_time"
        assert handle["lead_time"].units == "hours"
        assert handle["t_850"].coordinates == "valid_time"
        assert json.loads(handle.wx)["complete"] is True


def test_unstructured_grid_uses_cell_dim(tmp_path):
    mask = np.arange(12) % 2 == 0
    path = write_all(tmp_path / "f.zarr", layout(grid_shape=None, mask=mask), "zarr")
    dataset = open_forecast(path)
    assert dataset["h"].dims == ("init_time", "lead_time", "cell")
    np.testing.assert_array_equal(dataset["latitude"].values, LAT)
    np.testing.assert_array_equal(dataset["interior_mask"].values, mask.astype(np.int8))
    np.testing.assert_array_equal(dataset["h"].values[0, 1], step_values(0, 1)[1])


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_interrupted_write_leaves_only_partial(tmp_path, fmt):
    path = tmp_path / f"f.{fmt}"
    with pytest.raises(RuntimeError, match="boom"), open_writer(path, layout(), format=fmt) as w:
        w.write(0, 0, step_values(0, 0))
        raise RuntimeError("boom")
    assert not path.exists()
    assert (tmp_path / f"f.{fmt}.partial").exists()
    with pytest.raises(IncompleteForecastError, match="interrupted"):
        open_forecast(path)
    with pytest.raises(IncompleteForecastError, match="partial"):
        open_forecast(tmp_path / f"f.{fmt}.partial")


def test_close_refuses_missing_steps(tmp_path):
    writer = open_writer(tmp_path / "f.zarr", layout())
    writer.write(0, 0, step_values(0, 0))
    with pytest.raises(RuntimeError, match="5 forecast steps were never written"):
        writer.close()
    assert not (tmp_path / "f.zarr").exists()


def test_existing_output_refused_and_replaced_only_when_complete(tmp_path):
    path = write_all(tmp_path / "f.zarr", layout(), "zarr")
    with pytest.raises(OutputExistsError, match="overwrite"):
        open_writer(path, layout())
    writer = open_writer(path, layout(), overwrite=True)
    writer.write(0, 0, step_values(0, 0) * 0)
    assert open_forecast(path)["h"].values[0, 0, 0, 0] == 12.0  # old output intact meanwhile
    for init in range(2):
        for lead in range(3):
            writer.write(init, lead, step_values(init, lead) * 0)
    writer.close()
    assert float(open_forecast(path)["h"].values.max()) == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.zarr"]


def test_wrong_step_shape_and_format(tmp_path):
    writer = open_writer(tmp_path / "f.zarr", layout())
    with pytest.raises(ValueError, match=r"expected \(2, 12\)"):
        writer.write(0, 0, np.zeros((3, 12), np.float32))
    with pytest.raises(ValueError, match="output format 'grib'"):
        open_writer(tmp_path / "g", layout(), format="grib")
