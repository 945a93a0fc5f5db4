"""Each example recipe builds, and the store holds exactly what xarray reads from the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from wx_datasets import create, load_recipe, open_dataset
from wx_datasets.compare import compare_datasets

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "datasets"


def _build(name: str, tmp_path: Path, shared_data) -> tuple:
    folder = shared_data("air_temperature.nc").parent
    recipe = load_recipe(EXAMPLES / name)
    assert str(folder) in str(recipe.input)  # ${WX_SHARED_DATA} found beside the checkout
    create(recipe, tmp_path / "store.zarr")
    return open_dataset(tmp_path / "store.zarr"), folder


def _cells(array: xr.DataArray) -> np.ndarray:
    """float32 [..., cell] from [..., latitude, longitude]."""
    values = array.values.astype(np.float32)
    return values.reshape(*values.shape[:-2], -1)


def test_ncep_air_temperature(tmp_path, shared_data):
    view, folder = _build("ncep-air-temperature.yaml", tmp_path, shared_data)
    with xr.open_dataset(folder / "air_temperature.nc") as source:
        assert source["air"].encoding["dtype"] == np.int16  # packed, CF-decoded by xarray
        expected = _cells(source["air"])
    assert view.shape == (2920, 1, 1, 1325)
    assert np.array_equal(view[:][:, 0, 0], expected)
    assert view.metadata["statistics"]["end"] == "2013-12-31T18:00:00"
    np.testing.assert_allclose(
        view.statistics["mean"], [expected[:1460].astype(np.float64).mean()], rtol=1e-6
    )


def test_era5_members(tmp_path, shared_data):
    view, folder = _build("era5-levels-members.yaml", tmp_path, shared_data)
    assert view.variables == ["z_500", "z_850", "t_500", "t_850"]
    assert view.ensemble_size == 10 and len(view) == 4
    with xr.open_dataset(folder / "era5-levels-members.nc") as source:
        for index, name in enumerate(view.variables):
            param, level = name.split("_")
            field = source[param].sel(isobaricInhPa=float(level)).transpose("time", "number", ...)
            assert np.array_equal(view[:][:, index], _cells(field)), name
    assert view.variables_metadata["t_850"]["level"] == 850.0
    assert view.variables_metadata["z_500"]["units"] == "m**2 s**-2"


def test_ifs_forecasts_at_valid_time(tmp_path, shared_data):
    view, folder = _build("ifs-pressure-levels.yaml", tmp_path, shared_data)
    assert len(view.variables) == 30 and len(view) == 8
    with xr.open_dataset(folder / "pl_regular_ll.nc") as source:
        for date_index, date in enumerate(view.dates):
            init, step = divmod(date_index, 2)  # 00 UTC analysis, 06 UTC forecast, 12 UTC, ...
            assert source["valid_time"].values[init, step] == date
            for index, name in enumerate(view.variables):
                param, level = name.split("_")
                field = source[param].isel(time=init, step=step).sel(isobaricInhPa=float(level))
                assert np.array_equal(view[date_index][index, 0], _cells(field)), (name, date)


def test_gfs_state_with_constants(tmp_path, shared_data):
    view, folder = _build("gfs-state.yaml", tmp_path, shared_data)
    assert view.dates.tolist() == [np.datetime64("2011-01-15T12:00", "s")]
    sample = view[0][:, 0]  # [variable, cell]
    with xr.open_dataset(folder / "gfs.t12z.pgrbf120.2p5deg.subset.nc") as source:
        for index, name in enumerate(view.variables):
            param, _, level = name.partition("_")
            if name.startswith(("cos_", "sin_")) or param not in source:
                continue
            field = source[param]
            if level:
                field = field.sel({field.dims[0]: float(level)})
            assert np.array_equal(sample[index], _cells(field)), name
    kinds = view.variables_metadata
    assert (
        kinds["lsm"]["kind"]
        == kinds["orog"]["kind"]
        == kinds["sin_longitude"]["kind"]
        == "constant"
    )
    assert kinds["prmsl"]["kind"] == "diagnostic" and kinds["t_850"]["kind"] == "prognostic"
    assert "r_250" in view.variables and "u10" in view.variables
    np.testing.assert_allclose(
        sample[view.name_to_index["sin_longitude"]], np.sin(np.radians(view.longitudes)), atol=1e-7
    )


def test_era5_grib_gives_the_same_store_as_netcdf(tmp_path, shared_data):
    try:
        import cfgrib  # noqa: F401
    except (ImportError, RuntimeError) as error:  # RuntimeError: the ecCodes library is absent
        pytest.skip(f"cfgrib unusable: {error}")
    shared_data("era5-levels-members.grib")
    create(load_recipe(EXAMPLES / "era5-levels-members-grib.yaml"), tmp_path / "grib.zarr")
    create(load_recipe(EXAMPLES / "era5-levels-members.yaml"), tmp_path / "netcdf.zarr")
    assert compare_datasets(tmp_path / "grib.zarr", tmp_path / "netcdf.zarr") == []
