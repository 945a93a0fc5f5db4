"""Building stores from real NCEP data: values, statistics, header, layout, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from wx_datasets import IncompleteDatasetError, create, open_dataset
from wx_datasets.store import STATISTICS
from wx_utils.testdata import shared_data_file

AIR_DATES = 60


def shared_path(name: str) -> str:
    try:
        return str(shared_data_file(name))
    except FileNotFoundError as error:
        pytest.skip(str(error))


def _air_source(start="2013-01-01T00:00", end="2013-01-15T18:00") -> np.ndarray:
    """The source as xarray decodes it, as stored: float32 [time, cell]."""
    with xr.open_dataset(shared_path("air_temperature.nc")) as source:
        air = source["air"].sel(time=slice(start, end)).values
    return air.astype(np.float32).reshape(air.shape[0], -1)


def test_store_holds_the_source_values_exactly(air_store):
    view = open_dataset(air_store)
    assert view.shape == (AIR_DATES, 1, 1, 25 * 53)
    assert np.array_equal(view[:][:, 0, 0], _air_source())
    with xr.open_dataset(shared_path("air_temperature.nc")) as source:
        lat2d, lon2d = np.meshgrid(source.lat.values, source.lon.values, indexing="ij")
    assert np.array_equal(view.latitudes, lat2d.ravel().astype(np.float64))
    assert np.array_equal(view.longitudes, lon2d.ravel().astype(np.float64))
    assert view.grid_shape == (25, 53)


def test_statistics_equal_numpy_on_the_full_array(air_store):
    view = open_dataset(air_store)
    values = _air_source().astype(np.float64)
    tendency = np.diff(values, axis=0)
    np.testing.assert_allclose(view.statistics["mean"], [values.mean()], rtol=1e-6)
    np.testing.assert_allclose(view.statistics["stdev"], [values.std()], rtol=1e-6)
    assert view.statistics["minimum"][0] == values.min()
    assert view.statistics["maximum"][0] == values.max()
    np.testing.assert_allclose(view.statistics_tendencies["mean"], [tendency.mean()], rtol=1e-6)
    np.testing.assert_allclose(view.statistics_tendencies["stdev"], [tendency.std()], rtol=1e-6)


def test_statistics_period_and_missing_dates(tmp_path, air_recipe):
    recipe = air_recipe(
        statistics={"start": "2013-01-03T00:00", "end": "2013-01-12T18:00"},
        dates={**air_recipe()["dates"], "missing": ["2013-01-05T06:00"]},
    )
    create(recipe, tmp_path / "air.zarr", block_dates=8)
    view = open_dataset(tmp_path / "air.zarr", missing="skip")
    assert len(view) == AIR_DATES - 1
    values = _air_source("2013-01-03T00:00", "2013-01-12T18:00").astype(np.float64)
    kept = np.ones(values.shape[0], bool)
    kept[9] = False  # 2013-01-05T06 is the tenth date of the period
    np.testing.assert_allclose(view.statistics["mean"], [values[kept].mean()], rtol=1e-6)
    np.testing.assert_allclose(view.statistics["stdev"], [values[kept].std()], rtol=1e-6)
    # tendencies need both dates: the pairs around the missing date are left out
    pairs = np.diff(values, axis=0)[kept[1:] & kept[:-1]]
    np.testing.assert_allclose(view.statistics_tendencies["mean"], [pairs.mean()], rtol=1e-6)
    np.testing.assert_allclose(view.statistics_tendencies["stdev"], [pairs.std()], rtol=1e-6)
    assert not (tmp_path / "air.zarr" / "data" / "c.17.0.0.0").exists()  # no chunk for the gap


def test_header(air_store, air_recipe):
    header = json.loads((Path(air_store) / "zarr.json").read_text())["attributes"]["wx"]
    assert header["format"] == "wx-dataset" and header["format_version"] == 1
    assert header["complete"] is True
    assert header["variables"] == ["air"]
    assert header["variables_metadata"]["air"]["units"] == "degK"
    assert header["variables_metadata"]["air"]["kind"] == "prognostic"
    assert header["frequency"] == "6h" and header["missing_dates"] == []
    assert (header["start"], header["end"]) == ("2013-01-01T00:00:00", "2013-01-15T18:00:00")
    assert header["grid"] == {"type": "regular", "shape": [25, 53]}
    assert header["recipe"]["input"] == air_recipe()["input"]
    assert header["provenance"]["config"] == header["recipe"]
    assert header["checksum"].startswith("sha256:") and len(header["checksum"]) == 71


def test_store_opens_with_plain_xarray(air_store):
    dataset = xr.open_zarr(air_store)
    assert dataset["data"].dims == ("time", "variable", "ensemble", "cell")
    assert {"dates", "latitudes", "longitudes", "variable"} <= set(dataset.coords)
    assert list(dataset["variable"].values) == ["air"]
    assert dataset["mean"].dims == ("variable",)
    eager = xr.open_zarr(air_store, chunks=None)  # numpy-backed: no dask scheduler needed
    assert np.array_equal(eager["data"].values[:, 0, 0], _air_source())
    assert eager["dates"].values[0] == np.datetime64("2013-01-01T00:00")


def test_layout_one_chunk_per_date(air_store):
    data = zarr.open_group(air_store, mode="r")["data"]
    assert data.chunks == (1, 1, 1, 25 * 53) and data.dtype == np.float32
    root = zarr.open_group(air_store, mode="r")
    assert root["dates"].dtype == np.dtype("datetime64[s]")
    for name in STATISTICS:
        assert root[name].dtype == np.float64 and root[name].shape == (1,)
    assert not (Path(air_store) / "_build").exists()
    weights = root["area_weight"][...]
    assert weights.mean() == pytest.approx(1.0)
    # band areas: the 15N row weighs cos(15)/cos(75) times the 75N row
    assert weights[-1] / weights[0] == pytest.approx(
        np.cos(np.radians(15)) / np.cos(np.radians(75)), rel=1e-3
    )


def test_same_inputs_give_the_same_store(tmp_path, air_store, air_recipe):
    """Another split into tasks and another scheduler: same chunks, statistics and checksum."""
    create(air_recipe(), tmp_path / "again.zarr", block_dates=7, scheduler="synchronous")
    first = zarr.open_group(air_store, mode="r")
    second = zarr.open_group(tmp_path / "again.zarr", mode="r")
    for name in (*STATISTICS, "date_checksum", "latitudes", "longitudes", "dates"):
        assert np.array_equal(first[name][...], second[name][...], equal_nan=True), name
    chunks = sorted((Path(air_store) / "data").glob("c.*"))
    assert len(chunks) == AIR_DATES
    for chunk in chunks:
        twin = tmp_path / "again.zarr" / chunk.relative_to(air_store)
        assert chunk.read_bytes() == twin.read_bytes()
    checksum = first.attrs["wx"]["checksum"]
    assert checksum == second.attrs["wx"]["checksum"]


def test_incomplete_store_cannot_be_opened(tmp_path, air_recipe):
    create(air_recipe(), tmp_path / "half.zarr", part=(1, 2), block_dates=16)
    with pytest.raises(IncompleteDatasetError, match=r"incomplete.*--resume.*wx-datasets finalise"):
        open_dataset(tmp_path / "half.zarr")


def test_constant_fields_are_stored_and_reported(tmp_path, air_recipe):
    """A constant from a file (air at the first date) and a computed one, joined to air."""
    path = shared_path("air_temperature.nc")
    recipe = air_recipe(
        input={
            "type": "join",
            "inputs": [
                {"type": "netcdf", "path": path, "variables": ["air"]},
                {
                    "type": "constants",
                    "path": path,
                    "variables": ["air"],
                    "isel": {"time": 0},
                    "rename": {"air": "air_initial"},
                    "features": ["cos_latitude"],
                },
            ],
        }
    )
    create(recipe, tmp_path / "constants.zarr")
    view = open_dataset(tmp_path / "constants.zarr")
    assert view.variables == ["air", "air_initial", "cos_latitude"]
    kinds = {name: view.variables_metadata[name]["kind"] for name in view.variables}
    assert kinds == {"air": "prognostic", "air_initial": "constant", "cos_latitude": "constant"}
    first = _air_source()[0]
    for index in range(len(view)):
        assert np.array_equal(view[index][1, 0], first)
    assert np.array_equal(view[5][2, 0], np.cos(np.radians(view.latitudes)).astype(np.float32))
    assert view.metadata["statistics"]["constant_in_time"] == ["air_initial", "cos_latitude"]
    assert view.metadata["statistics"]["constant_value"] == []
    assert view.statistics_tendencies["stdev"][1] == 0.0
