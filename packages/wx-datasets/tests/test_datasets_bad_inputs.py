"""Each bad input of the issue gives its specific error, and nothing already written is lost."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr

from wx_datasets import (
    DateMismatchError,
    GridMismatchError,
    NaNPolicyError,
    SourceError,
    create,
    open_dataset,
)
from wx_datasets.build import done_blocks

# the tests rewrite NCEP's packed int16 data: xarray notes there is no _FillValue for NaNs
pytestmark = pytest.mark.filterwarnings("ignore:saving variable:xarray.SerializationWarning")


def test_missing_file(tmp_path, air_recipe):
    recipe = air_recipe(input={"type": "netcdf", "path": str(tmp_path / "nowhere.nc")})
    with pytest.raises(
        FileNotFoundError, match=r"recipe\.input\.path: .*nowhere\.nc: no such file"
    ):
        create(recipe, tmp_path / "out.zarr")
    assert not (tmp_path / "out.zarr").exists()
    recipe = air_recipe(input={"type": "netcdf", "path": str(tmp_path / "era5-*.nc")})
    with pytest.raises(FileNotFoundError, match=r"no file matches .*era5-\*\.nc"):
        create(recipe, tmp_path / "out.zarr")


def test_variable_absent_from_the_source_lists_those_present(tmp_path, air_recipe, shared_data):
    recipe = air_recipe()
    recipe["input"]["variables"] = ["t2m"]
    with pytest.raises(SourceError, match=r"variable 't2m' not found; variables present: air"):
        create(recipe, tmp_path / "out.zarr")
    era5 = {"type": "netcdf", "path": str(shared_data("era5-levels-members.nc")), "levels": [700]}
    with pytest.raises(
        SourceError, match=r"level\(s\) \[700.0\] of 'z' not found; levels present: \[850, 500\]"
    ):
        create(air_recipe(input=era5), tmp_path / "out.zarr")
    recipe = air_recipe(variables=["air", "q"])
    with pytest.raises(
        ValueError,
        match=r"recipe\.variables\[1\]: 'q' is not a variable of the input; variables: air",
    ):
        create(recipe, tmp_path / "out.zarr")
    assert not (tmp_path / "out.zarr").exists()


def test_mismatched_grids_between_inputs(tmp_path, air_recipe, shared_data):
    join = {
        "type": "join",
        "inputs": [
            {"type": "netcdf", "path": str(shared_data("air_temperature.nc"))},
            {"type": "netcdf", "path": str(shared_data("era5-levels-members.nc"))},
        ],
    }
    with pytest.raises(
        GridMismatchError,
        match=r"grids differ: recipe\.input\.inputs\[0\] .* has 1325 cells \(shape \(25, 53\)\), recipe\.input\.inputs\[1\] .* has 7320",
    ):
        create(air_recipe(input=join), tmp_path / "out.zarr")


def test_mismatched_dates_between_inputs(tmp_path, air_recipe, shared_data):
    with xr.open_dataset(shared_data("air_temperature.nc")) as source:
        source.isel(time=slice(0, 30)).to_netcdf(tmp_path / "early.nc")
        source.isel(time=slice(0, 60)).rename(air="air2").to_netcdf(tmp_path / "all.nc")
    join = {
        "type": "join",
        "inputs": [
            {"type": "netcdf", "path": str(tmp_path / "all.nc")},
            {"type": "netcdf", "path": str(tmp_path / "early.nc")},
        ],
    }
    with pytest.raises(
        DateMismatchError,
        match=r"recipe\.input\.inputs\[1\] \(.*early\.nc\): no data for 30 requested date\(s\): 2013-01-08T12:00:00",
    ):
        create(air_recipe(input=join), tmp_path / "out.zarr")


def test_duplicate_and_decreasing_dates(tmp_path, air_recipe, shared_data):
    with xr.open_dataset(shared_data("air_temperature.nc")) as source:
        first = source.isel(time=slice(0, 60))
        xr.concat([first.isel(time=slice(0, 10)), first.isel(time=slice(9, 60))], "time").to_netcdf(
            tmp_path / "duplicate.nc"
        )
        first.isel(time=[0, 1, 3, 2, *range(4, 60)]).to_netcdf(tmp_path / "shuffled.nc")
    recipe = air_recipe(input={"type": "netcdf", "path": str(tmp_path / "duplicate.nc")})
    with pytest.raises(
        DateMismatchError,
        match=r"duplicate\.nc\): duplicate dates in the time coordinate: 2013-01-03T06:00:00",
    ):
        create(recipe, tmp_path / "out.zarr")
    recipe = air_recipe(input={"type": "netcdf", "path": str(tmp_path / "shuffled.nc")})
    with pytest.raises(
        DateMismatchError,
        match=r"dates are not increasing: 2013-01-01T18:00:00 is followed by 2013-01-01T12:00:00",
    ):
        create(recipe, tmp_path / "out.zarr")


def test_overlapping_inputs_of_a_concat(tmp_path, air_recipe, shared_data):
    path = str(shared_data("air_temperature.nc"))
    concat = {"type": "concat", "inputs": [{"type": "netcdf", "path": path}] * 2}
    with pytest.raises(
        DateMismatchError, match=r"date 2013-01-01T00:00:00 is in both recipe\.input\.inputs\[0\]"
    ):
        create(air_recipe(input=concat), tmp_path / "out.zarr")


def test_frequency_the_data_does_not_have(tmp_path, air_recipe):
    recipe = air_recipe(
        dates={"start": "2013-01-01T00:00", "end": "2013-01-02T00:00", "frequency": "1h"}
    )
    with pytest.raises(
        DateMismatchError,
        match=r"no data for 20 requested date\(s\): 2013-01-01T01:00:00.*every 6h",
    ):
        create(recipe, tmp_path / "out.zarr")


def test_nans_where_the_policy_forbids_them(tmp_path, air_recipe, shared_data):
    with xr.open_dataset(shared_data("air_temperature.nc")) as source:
        air = source.isel(time=slice(0, 60)).load()
    air["air"][40, 3, 5] = np.nan  # date 2013-01-11T00
    air["air"].encoding.pop("dtype", None)  # keep float so the NaN survives
    air.to_netcdf(tmp_path / "holes.nc")
    recipe = air_recipe(input={"type": "netcdf", "path": str(tmp_path / "holes.nc")})
    output = tmp_path / "out.zarr"
    with pytest.raises(
        NaNPolicyError,
        match=r"variable 'air' has 1 NaN values at 2013-01-11T00:00:00 but its NaN policy is 'forbid'",
    ):
        create(recipe, output, block_dates=16, scheduler="synchronous")
    assert done_blocks(output).tolist() == [True, True, False, False]  # earlier blocks kept
    before = (output / "data" / "c.3.0.0.0").read_bytes()
    with pytest.raises(NaNPolicyError):
        create(recipe, output, resume=True, scheduler="synchronous")
    assert (output / "data" / "c.3.0.0.0").read_bytes() == before
    allowed = {**recipe, "nans": {"air": "allow"}}
    create(allowed, tmp_path / "allowed.zarr")
    view = open_dataset(tmp_path / "allowed.zarr")
    assert np.isnan(view[40]).sum() == 1
    values = air["air"].values.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(view.statistics["mean"], [np.nanmean(values)], rtol=1e-6)
    np.testing.assert_allclose(view.statistics["stdev"], [np.nanstd(values)], rtol=1e-6)


def test_output_path_that_exists(tmp_path, air_recipe, air_store):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="exists and is not a wx dataset; pass --overwrite"):
        create(air_recipe(), other)
    assert (other / "keep.txt").read_text() == "precious"
    copy = tmp_path / "copy.zarr"
    shutil.copytree(air_store, copy)
    with pytest.raises(FileExistsError, match="a complete dataset exists; pass --overwrite"):
        create(air_recipe(), copy)
    assert open_dataset(copy).metadata["checksum"] == open_dataset(air_store).metadata["checksum"]


def test_failed_overwrite_keeps_the_old_store(tmp_path, air_recipe, air_store):
    copy = tmp_path / "copy.zarr"
    shutil.copytree(air_store, copy)
    recipe = air_recipe()
    recipe["input"]["variables"] = ["nothing"]
    with pytest.raises(SourceError):
        create(recipe, copy, overwrite=True)
    assert len(open_dataset(copy)) == 60
