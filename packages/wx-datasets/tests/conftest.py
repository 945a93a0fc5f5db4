"""Fixtures for wx-datasets tests: recipes on the real files of ../shared/data and small stores."""

from __future__ import annotations

import copy

import pytest

from wx_utils.testdata import shared_data_file

AIR_RECIPE = {
    "name": "air-test",
    "description": "NCEP air temperature, first 15 days of 2013",
    "dates": {"start": "2013-01-01T00:00", "end": "2013-01-15T18:00", "frequency": "6h"},
    "input": {"type": "netcdf", "path": None, "variables": ["air"]},
}
AIR_DATES = 60


def shared_path(name: str) -> str:
    try:
        return str(shared_data_file(name))
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(autouse=True)
def _no_progress_bars(monkeypatch):
    monkeypatch.setenv("WX_PROGRESS", "0")


@pytest.fixture
def air_recipe():
    """A function returning the 60-date air recipe as a dict, with top-level keys replaced."""

    def make(**changes):
        recipe = copy.deepcopy(AIR_RECIPE)
        recipe["input"]["path"] = shared_path("air_temperature.nc")
        recipe.update(copy.deepcopy(changes))
        return recipe

    return make


@pytest.fixture(scope="session")
def air_store(tmp_path_factory):
    """The 60-date air store, built once in 4 blocks of 16 dates."""
    from wx_datasets import create

    recipe = copy.deepcopy(AIR_RECIPE)
    recipe["input"]["path"] = shared_path("air_temperature.nc")
    path = tmp_path_factory.mktemp("air") / "air.zarr"
    create(recipe, path, block_dates=16)
    return path


@pytest.fixture(scope="session")
def era5_store(tmp_path_factory):
    """ERA5 members (4 dates, 10 members, z and t at 500/850 hPa)."""
    from wx_datasets import create

    recipe = {
        "dates": {"start": "2017-01-01T00:00", "end": "2017-01-02T12:00", "frequency": "12h"},
        "input": {"type": "netcdf", "path": shared_path("era5-levels-members.nc")},
    }
    path = tmp_path_factory.mktemp("era5") / "era5.zarr"
    create(recipe, path)
    return path
