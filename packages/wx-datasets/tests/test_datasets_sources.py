"""Inputs: globs, CF packing, grid orientation, zarr (WeatherBench2 layout), steps, constants,
the input registry and the shallow-water input."""

from __future__ import annotations

import sys
import types

import netCDF4
import numpy as np
import pytest
import xarray as xr

from wx_datasets import SourceError, create, open_dataset
from wx_datasets.sources import OpenContext, open_source, source_types
from wx_utils.dates import date_range

# Expected warnings: rewriting NCEP's packed int16 data (no _FillValue for NaNs), ERA-Interim's
# NaN _FillValue (see shared/data/README.md), xarray writing consolidated zarr v3 metadata.
pytestmark = [
    pytest.mark.filterwarnings("ignore:saving variable:xarray.SerializationWarning"),
    pytest.mark.filterwarnings("ignore:variable .* has non-conforming '_FillValue'"),
    pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part"),
]

DATES = date_range("2013-01-01T00:00", "2013-01-15T18:00", "6h")


def _open(spec, dates=DATES, longitudes="0..360"):
    return open_source(
        spec, path="recipe.input", context=OpenContext(longitudes=longitudes, dates=dates)
    )


def test_registry_lists_every_input_type():
    assert {
        "netcdf",
        "xarray",
        "grib",
        "zarr",
        "constants",
        "join",
        "concat",
        "shallow-water",
    } <= set(source_types())


def test_packed_int16_is_decoded_as_xarray_does(shared_data):
    path = shared_data("air_temperature.nc")
    with netCDF4.Dataset(path) as raw:
        variable = raw["air"]
        variable.set_auto_maskandscale(False)
        packed = variable[:2]
        assert packed.dtype == np.int16 and variable.scale_factor == pytest.approx(0.01)
        scale, offset = variable.scale_factor, getattr(variable, "add_offset", 0.0)
    loaded = _open({"type": "netcdf", "path": str(path)}).load(DATES[:2])
    np.testing.assert_allclose(loaded[:, 0, 0], (packed * scale + offset).reshape(2, -1), atol=1e-4)


def test_glob_of_files_is_concatenated_in_time(tmp_path, shared_data, air_store):
    with xr.open_dataset(shared_data("air_temperature.nc")) as source:
        part = source.isel(time=slice(0, 60))
        part.isel(time=slice(0, 25)).to_netcdf(tmp_path / "air-a.nc")
        part.isel(time=slice(25, 60)).to_netcdf(tmp_path / "air-b.nc")
    source = _open({"type": "netcdf", "path": str(tmp_path / "air-*.nc")})
    assert source.dates.size == 60
    assert np.array_equal(source.load(DATES), open_dataset(air_store)[:])


def test_glob_of_one_file_per_variable_is_joined(tmp_path, shared_data, era5_store):
    with xr.open_dataset(shared_data("era5-levels-members.nc")) as source:
        source[["z"]].to_netcdf(tmp_path / "era5-z.nc")
        source[["t"]].to_netcdf(tmp_path / "era5-t.nc")
    source = _open({"type": "netcdf", "path": str(tmp_path / "era5-*.nc")})
    view = open_dataset(era5_store)
    assert sorted(source.names) == sorted(view.variables)
    loaded = source.load(view.dates)
    for index, name in enumerate(source.names):
        assert np.array_equal(loaded[:, index], view[:][:, view.name_to_index[name]]), name


def test_ascending_latitudes_and_signed_longitudes(tmp_path, shared_data, air_store):
    with xr.open_dataset(shared_data("air_temperature.nc")) as source:
        flipped = source.isel(time=slice(0, 60), lat=slice(None, None, -1))
        flipped = flipped.assign_coords(lon=flipped.lon - 360.0)  # 200..330E as -160..-30
        flipped.to_netcdf(tmp_path / "flipped.nc")
    source = _open({"type": "netcdf", "path": str(tmp_path / "flipped.nc")})
    assert np.array_equal(source.load(DATES), open_dataset(air_store)[:])
    assert source.grid.latitudes[0] == 75.0 and source.grid.longitudes[0] == 200.0
    signed = _open({"type": "netcdf", "path": str(tmp_path / "flipped.nc")}, longitudes="-180..180")
    assert signed.grid.longitudes[0] == -160.0


def test_weatherbench2_zarr_layout(tmp_path, shared_data, era5_store):
    """(time, level, longitude, latitude) with ascending latitudes and a `level` axis in hPa."""
    with xr.open_dataset(shared_data("era5-levels-members.nc")) as source:
        member = source.isel(number=0).drop_vars(["number", "step", "valid_time"])
        member = member.rename({"isobaricInhPa": "level"}).isel(latitude=slice(None, None, -1))
        member.transpose("time", "level", "longitude", "latitude").to_zarr(tmp_path / "wb2.zarr")
    view = open_dataset(era5_store)
    source = _open(
        {"type": "zarr", "path": str(tmp_path / "wb2.zarr"), "levels": [500]}, dates=view.dates
    )
    assert sorted(source.names) == ["t_500", "z_500"]
    loaded = source.load(view.dates)
    for index, name in enumerate(source.names):
        assert np.array_equal(loaded[:, index, 0], view[:][:, view.name_to_index[name], 0]), name


def test_one_lead_time_of_forecasts(tmp_path, shared_data):
    path = str(shared_data("pl_regular_ll.nc"))
    source = _open({"type": "netcdf", "path": path, "variables": ["t_850"], "step": "6h"})
    assert [str(d) for d in source.dates] == [
        "2024-06-03T06:00:00",
        "2024-06-03T18:00:00",
        "2024-06-04T06:00:00",
        "2024-06-04T18:00:00",
    ]
    with xr.open_dataset(path) as dataset:
        expected = dataset["t"].isel(step=1).sel(isobaricInhPa=850.0).values
    assert np.array_equal(source.load(source.dates)[:, 0, 0], expected.reshape(4, -1))
    analysis = _open({"type": "netcdf", "path": path, "variables": ["t_850"], "step": 0})
    assert str(analysis.dates[1]) == "2024-06-03T12:00:00"
    with pytest.raises(SourceError, match=r"step 12h not found; steps present"):
        _open({"type": "netcdf", "path": path, "step": "12h"})


def test_constants_from_a_global_file_with_signed_longitudes(shared_data):
    path = str(shared_data("eraint_uvz.nc"))
    source = _open(
        {
            "type": "constants",
            "path": path,
            "variables": ["z"],
            "levels": [500],
            "isel": {"month": 0},
        }
    )
    assert source.names == ["z_500"] and source.dates is None and source.variables[0].constant
    values = source.load(DATES[:3])
    with xr.open_dataset(path) as dataset:
        field = (
            dataset["z"].isel(month=0).sel(level=500).roll(longitude=240).values.astype(np.float32)
        )
    assert np.array_equal(values[2, 0, 0], field.ravel())
    assert source.grid.longitudes[0] == 0.0 and source.grid.shape == (241, 480)
    with pytest.raises(
        SourceError, match="constant fields must not vary in time, but 'time' has 2920"
    ):
        _open({"type": "constants", "path": str(shared_data("air_temperature.nc"))})


def test_gaussian_grid_is_recognised(tmp_path, shared_data):
    from wx_datasets.grids import gaussian_latitudes

    with xr.open_dataset(shared_data("era5-levels-members.nc")) as source:
        field = source[["t"]].isel(number=0, latitude=slice(0, 32))
        field = field.assign_coords(latitude=gaussian_latitudes(32))
        field.to_netcdf(tmp_path / "gaussian.nc")
    source = _open({"type": "netcdf", "path": str(tmp_path / "gaussian.nc")}, dates=DATES[:0])
    assert source.grid.describe() == {"type": "gaussian", "shape": [32, 120]}


def _fake_shallow_water(shared_data):
    """Stands in for wx_datasets.shallow_water.source: real ERA5 fields in its output layout."""
    path = shared_data("era5-levels-members.nc")

    def open_source(options, *, dates):
        with xr.open_dataset(path) as source:
            z = source["z"].sel(isobaricInhPa=500.0).rename(number="member").load()
        fields = xr.Dataset(
            {
                "z": z.transpose("time", "member", "latitude", "longitude"),
                "orography": z.isel(time=0, member=0, drop=True) / 9.80665,
            }
        )
        return fields.drop_vars(["step", "valid_time", "isobaricInhPa"], errors="ignore").sel(
            time=dates
        )

    return open_source


def test_shallow_water_input_treats_timeless_variables_as_constants(
    tmp_path, shared_data, monkeypatch
):
    module = types.ModuleType("wx_datasets.shallow_water.source")
    module.open_source = _fake_shallow_water(shared_data)
    monkeypatch.setitem(sys.modules, "wx_datasets.shallow_water.source", module)
    recipe = {
        "dates": {"start": "2017-01-01T00:00", "end": "2017-01-02T12:00", "frequency": "12h"},
        "input": {"type": "shallow-water", "truncation": 21},
    }
    create(recipe, tmp_path / "sw.zarr")
    view = open_dataset(tmp_path / "sw.zarr")
    assert view.variables == ["z", "orography"] and view.ensemble_size == 10
    assert view.variables_metadata["orography"]["kind"] == "constant"
    assert view.variables_metadata["z"]["kind"] == "prognostic"
    first = view[0][1]
    for index in range(1, len(view)):
        assert np.array_equal(view[index][1], first)  # the same field at every date and member
    assert np.array_equal(first[3], first[0])
    assert view.metadata["statistics"]["constant_in_time"] == ["orography"]
    with xr.open_dataset(shared_data("era5-levels-members.nc")) as source:
        expected = source["z"].sel(isobaricInhPa=500.0).transpose("time", "number", ...).values
    assert np.array_equal(view[:][:, 0], expected.reshape(4, 10, -1))
