"""open_dataset views: indexing, selections, crops, thinning, joins, concatenations, missing dates."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pytest
import xarray as xr

from wx_datasets import DateMismatchError, MissingDatesError, create, open_dataset
from wx_datasets.view import StoreView


def test_indexing_gives_numpy_arrays(air_store):
    view = open_dataset(air_store)
    everything = view[:]
    assert everything.shape == (60, 1, 1, 1325) and everything.dtype == np.float32
    assert view[3].shape == (1, 1, 1325)
    assert np.array_equal(view[3], everything[3])
    assert np.array_equal(view[-1], everything[59])
    assert np.array_equal(view[10:12], everything[10:12])
    assert np.array_equal(view[[5, 2, 40]], everything[[5, 2, 40]])
    assert np.array_equal(view[0:10:3], everything[0:10:3])
    assert np.array_equal(view[4, 0, 0, 7], everything[4, 0, 0, 7])
    with pytest.raises(IndexError, match="out of range for 60 dates"):
        view[60]
    assert len(view) == 60 and view.frequency == dt.timedelta(hours=6)
    assert view.name_to_index == {"air": 0} and view.ensemble_size == 1


def test_cell_subsets_read_only_their_cells(air_store, era5_store):
    """A sharded rank's view of its cells: the same values, in a rank-sized array."""
    from wx_datasets.view import Subset

    for store in (air_store, era5_store):
        for fast in (True, False):
            view = StoreView(store)
            if not fast:
                view._local = None  # zarr-python's orthogonal selection
            cells = np.array([7, 3, 120, len(view.latitudes) - 1])
            part = Subset(view, cell_index=cells, grid_shape=None)
            whole = view[:3]
            assert part[:3].shape == (*whole.shape[:3], 4)
            assert np.array_equal(part[:3], whole[..., cells])
            assert np.array_equal(part[[2, 0]], whole[[2, 0]][..., cells])
            assert np.array_equal(part.latitudes, view.latitudes[cells])


def test_fast_reads_equal_zarr_reads(air_store, era5_store):
    for store in (air_store, era5_store):
        fast = StoreView(store)
        plain = StoreView(store)
        plain._local = None  # zarr-python's own reads
        assert np.array_equal(fast[[0, 2, 3]], plain[[0, 2, 3]])
        assert np.array_equal(fast[1:3], plain[1:3])


def test_url_goes_through_fsspec_and_zarr(era5_store):
    remote = open_dataset(f"file://{era5_store}")  # the path every non-local URL takes
    assert remote._local is None
    local = open_dataset(era5_store)
    assert np.array_equal(remote[[3, 0]], local[[3, 0]])
    assert np.array_equal(remote[1:3], local[1:3])
    assert remote.metadata["checksum"] == local.metadata["checksum"]


def test_views_survive_pickling_for_data_loader_processes(era5_store):
    view = open_dataset(era5_store, select=["t_850"], thinning=2)
    view[0]  # fills the read buffer and caches
    copy = pickle.loads(pickle.dumps(view))
    assert np.array_equal(copy[1:3], view[1:3]) and copy.variables == ["t_850"]


def test_sharded_store_reads_like_zarr(tmp_path, air_store, air_recipe):
    create(
        air_recipe(output={"dates_per_shard": 8, "compression": "zstd"}), tmp_path / "sharded.zarr"
    )
    sharded = StoreView(tmp_path / "sharded.zarr")
    assert sharded._local is not None and sharded._local.shard_dates == 8
    plain = StoreView(tmp_path / "sharded.zarr")
    plain._local = None
    assert np.array_equal(sharded[:], plain[:])
    assert np.array_equal(sharded[:], open_dataset(air_store)[:])
    assert len(list((tmp_path / "sharded.zarr" / "data").glob("c.*"))) == 8  # 60 dates / 8


def test_date_selection(air_store):
    view = open_dataset(air_store, start="2013-01-02T00:00", end="2013-01-03T18:00")
    assert len(view) == 8 and str(view.dates[0]) == "2013-01-02T00:00:00"
    full = open_dataset(air_store)
    assert np.array_equal(view[0], full[4])
    daily = open_dataset(air_store, frequency="1d")
    assert len(daily) == 15 and daily.frequency == dt.timedelta(days=1)
    assert np.array_equal(daily[2], full[8])
    assert len(open_dataset(air_store, start=2013, end=2013)) == 60
    with pytest.raises(
        ValueError, match="frequency 5h: expected a multiple of the dataset frequency"
    ):
        open_dataset(air_store, frequency="5h")
    with pytest.raises(ValueError, match="no dates between"):
        open_dataset(air_store, start="2014-01-01")


def test_variable_selection_and_statistics(era5_store):
    full = open_dataset(era5_store)
    assert full.variables == ["z_850", "z_500", "t_850", "t_500"]
    view = open_dataset(era5_store, select=["t_500", "z_850"], rename={"t_500": "temperature"})
    assert view.variables == ["temperature", "z_850"]
    assert np.array_equal(view[1], full[1][[3, 0]])
    assert view.statistics["mean"][0] == full.statistics["mean"][3]
    assert view.statistics_tendencies["stdev"][1] == full.statistics_tendencies["stdev"][0]
    assert view.variables_metadata["temperature"]["units"] == "K"
    dropped = open_dataset(era5_store, drop="z_500")
    assert dropped.variables == ["z_850", "t_850", "t_500"]
    with pytest.raises(
        KeyError, match="select: no variable 'q_500' in the dataset; variables: z_850"
    ):
        open_dataset(era5_store, select=["q_500"])


def test_area_crop_and_thinning(era5_store):
    full = open_dataset(era5_store)
    assert full.grid_shape == (61, 120)
    crop = open_dataset(era5_store, area=(60, -30, 30, 45))  # north, west, south, east
    assert crop.grid_shape == (11, 26)  # 60N..30N every 3 degrees, 330E..45E
    assert crop.latitudes.max() == 60 and crop.latitudes.min() == 30
    assert set(np.unique(crop.longitudes)) == set(np.r_[330:360:3, 0:46:3].astype(float))
    inside = np.flatnonzero(
        (full.latitudes <= 60)
        & (full.latitudes >= 30)
        & ((full.longitudes >= 330) | (full.longitudes <= 45))
    )
    assert np.array_equal(np.sort(crop[0].reshape(-1)), np.sort(full[0][..., inside].reshape(-1)))
    thin = open_dataset(era5_store, thinning=2)
    assert thin.grid_shape == (31, 60)
    assert np.array_equal(
        thin[2], full[2].reshape(4, 10, 61, 120)[..., ::2, ::2].reshape(4, 10, -1)
    )
    both = open_dataset(era5_store, area=(60, -30, 30, 45), thinning=5)
    assert both.grid_shape == (3, 6) and len(both.area_weight) == 18


def test_join_and_concat_of_stores(tmp_path, air_store, air_recipe):
    first = tmp_path / "first.zarr"
    second = tmp_path / "second.zarr"
    create(
        air_recipe(
            dates={"start": "2013-01-01T00:00", "end": "2013-01-07T18:00", "frequency": "6h"}
        ),
        first,
    )
    create(
        air_recipe(
            dates={"start": "2013-01-08T00:00", "end": "2013-01-15T18:00", "frequency": "6h"}
        ),
        second,
    )
    full = open_dataset(air_store)
    both = open_dataset({"concat": [first, second]})
    assert len(both) == 60 and np.array_equal(both[:], full[:])
    assert np.array_equal(both[[27, 28]], full[27:29])  # a sample across the boundary
    joined = open_dataset({"join": [air_store, {"dataset": air_store, "rename": {"air": "air2"}}]})
    assert joined.variables == ["air", "air2"]
    assert np.array_equal(joined[5][1], full[5][0]) and joined[5].shape == (2, 1, 1325)
    assert np.array_equal(joined[5][[1, 0]], open_dataset(joined, select=["air2", "air"])[5])
    with pytest.raises(ValueError, match=r"join: variables \['air'\] are in several datasets"):
        open_dataset({"join": [air_store, air_store]})
    with pytest.raises(
        DateMismatchError, match="join: dataset 1 and dataset 0 have different dates"
    ):
        open_dataset({"join": [first, {"dataset": second, "rename": {"air": "b"}}]})
    with pytest.raises(DateMismatchError, match="concat: dataset 1 starts at 2013-01-01T00:00:00"):
        open_dataset({"concat": [second, first]})


def test_missing_dates_fail_or_skip(tmp_path, air_recipe):
    recipe = air_recipe()
    recipe["dates"]["missing"] = ["2013-01-02T06:00", "2013-01-04T12:00"]
    create(recipe, tmp_path / "gaps.zarr")
    with pytest.raises(
        MissingDatesError, match="2 date.*2013-01-02T06:00:00, 2013-01-04T12:00:00.*missing='skip'"
    ):
        open_dataset(tmp_path / "gaps.zarr")
    skipped = open_dataset(tmp_path / "gaps.zarr", missing="skip")
    assert len(skipped) == 58 and np.datetime64("2013-01-02T06:00") not in skipped.dates
    assert not np.isnan(skipped[:]).any()
    clean = open_dataset(tmp_path / "gaps.zarr", start="2013-01-05")  # the gaps are before
    assert len(clean) == 44


def test_to_xarray(era5_store, shared_data):
    view = open_dataset(era5_store, select=["t_850"])
    dataset = view.to_xarray()
    assert dataset["t_850"].dims == ("time", "ensemble", "cell")
    assert dataset["t_850"].attrs["units"] == "K"
    with xr.open_dataset(shared_data("era5-levels-members.nc")) as source:
        expected = source["t"].sel(isobaricInhPa=850.0).transpose("time", "number", ...).values
    assert np.array_equal(dataset["t_850"].values, expected.reshape(4, 10, -1))
    assert np.array_equal(dataset["latitude"].values, view.latitudes)
