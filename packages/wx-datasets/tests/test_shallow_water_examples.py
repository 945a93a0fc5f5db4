"""The shallow-water example recipes: the small one builds into a store equal to the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wx_datasets.shallow_water.options import parse_options
from wx_datasets.shallow_water.source import open_source

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "datasets"


@pytest.fixture(scope="module")
def pipeline():
    wx_datasets = pytest.importorskip("wx_datasets")
    if not all(hasattr(wx_datasets, name) for name in ("create", "load_recipe", "open_dataset")):
        pytest.skip("wx_datasets.create / load_recipe / open_dataset are not available")
    return wx_datasets


def _options(recipe) -> dict:
    return {key: value for key, value in recipe.input.items() if key != "type"}


def test_small_example_builds_a_store_equal_to_the_source(pipeline, tmp_path):
    recipe = pipeline.load_recipe(EXAMPLES / "shallow-water-small.yaml")
    pipeline.create(recipe, tmp_path / "small.zarr")
    view = pipeline.open_dataset(tmp_path / "small.zarr")
    names = ["z", "u", "v", "vorticity", "divergence", "orography", "cos_latitude", "sin_latitude"]
    assert view.variables == names
    assert view.shape == (80, 8, 2, 32 * 64)  # 20 days x 4 dates, 2 members, T21 grid
    assert view.metadata["grid"] == {"type": "gaussian", "shape": [32, 64]}
    assert view.variables_metadata["vorticity"]["units"] == "s-1"
    assert view.variables_metadata["orography"]["kind"] == "constant"
    source = open_source(_options(recipe), dates=view.dates)
    for index, name in enumerate(names[:5]):
        expected = source[name].values.reshape(80, 2, -1)  # [time, member, cell]
        assert np.array_equal(view[:][:, index], expected), name
    assert np.array_equal(view[7][5, 1], source["orography"].values.ravel())
    stdev = view.statistics["stdev"][view.name_to_index["u"]]
    assert 3.0 < stdev < 30.0  # m/s: an active flow


def test_one_year_example_is_a_valid_recipe(pipeline):
    recipe = pipeline.load_recipe(EXAMPLES / "shallow-water.yaml")
    dates = recipe.dates.all_dates()
    assert dates.size == 1464  # 2000 is a leap year: 366 days x 4
    config = parse_options(_options(recipe))
    assert (config.truncation, config.nlat, config.nlon) == (42, 64, 128)
    assert config.fields == ("z", "u", "v", "vorticity", "divergence")
