"""Input sources: wx dataset views (missing dates) and xarray files (mappings, levels, cells)."""

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from wx_inference.grids import GridMismatchError, infer_grid_shape, match_cells
from wx_inference.inputs import (
    DatasetInput,
    InputError,
    MissingDateError,
    MissingVariableError,
    open_input,
)


class FakeView(SimpleNamespace):
    """The parts of a wx_datasets view that DatasetInput reads."""

    def __getitem__(self, index):
        return self.data[index]


def test_dataset_input_skips_missing_dates_and_reads_by_name():
    dates = np.array(["2020-01-01T00", "2020-01-01T06", "2020-01-01T12"], dtype="datetime64[s]")
    data = np.arange(3 * 2 * 1 * 4, dtype=np.float32).reshape(3, 2, 1, 4)
    view = FakeView(
        variables=["a", "b"],
        name_to_index={"a": 0, "b": 1},
        dates=dates,
        latitudes=np.zeros(4),
        longitudes=np.arange(4.0),
        grid_shape=None,
        ensemble_size=1,
        area_weight=None,
        variables_metadata={},
        metadata={"grid": {"type": "unstructured"}},
        missing=np.array([0, 1, 0], bool),
        data=data,
    )
    source = DatasetInput("store.zarr", view, {})
    assert source.dates.tolist() == [dates[0], dates[2]]
    np.testing.assert_array_equal(source.read(dates[2:], ["b"])[0, 0], data[2, 1])
    with pytest.raises(MissingDateError, match="2020-01-01T06:00:00"):
        source.read(dates[1:2], ["a"])
    with pytest.raises(MissingVariableError, match=r"lacks variable\(s\) \['c'\]"):
        source.read(dates[:1], ["c"])


def test_xarray_mapping_levels_and_members(shared_data, tmp_path):
    path = shared_data("era5-levels-members.nc")
    source = open_input(
        {"path": str(path), "variables": {"temperature": {"name": "t", "level": 500}}},
        names=["temperature", "z_850"],
    )
    assert {"temperature", "z_850"} <= set(source.variables)
    assert source.ensemble_size == 10 and source.grid_shape == (61, 120)
    expected = xr.open_dataset(path)["t"].sel(isobaricInhPa=500).isel(time=1, number=7)
    np.testing.assert_array_equal(
        source.read(source.dates[1:2], ["temperature"])[0, 0, 7], expected.values.reshape(-1)
    )
    with pytest.raises(MissingVariableError, match="q_700"):
        source.check_variables(["q_700"], purpose="the forecast")


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "fields.txt").write_text("not a dataset")
    with pytest.raises(InputError, match="unknown format"):
        open_input(tmp_path / "fields.txt")
    with pytest.raises(FileNotFoundError, match="nope.nc"):
        open_input(tmp_path / "nope.nc")


def test_grid_helpers():
    lat = np.repeat([10.0, 0.0], 3)
    lon = np.tile([0.0, 120.0, 240.0], 2)
    assert infer_grid_shape(lat, lon) == (2, 3)
    assert infer_grid_shape(np.array([10.0, 0.0, 10.0, 0.0, 10.0, 0.0]), lon) is None
    assert (
        match_cells(
            expected_latitudes=lat, expected_longitudes=lon, latitudes=lat, longitudes=lon - 360.0
        )
        is None
    )
    order = match_cells(
        expected_latitudes=lat, expected_longitudes=lon, latitudes=lat[::-1], longitudes=lon[::-1]
    )
    np.testing.assert_array_equal(lat[::-1][order], lat)
    np.testing.assert_array_equal(lon[::-1][order], lon)
    with pytest.raises(GridMismatchError, match="lacks 3 of the 6 cells"):
        match_cells(
            expected_latitudes=lat, expected_longitudes=lon, latitudes=lat[:3], longitudes=lon[:3]
        )
