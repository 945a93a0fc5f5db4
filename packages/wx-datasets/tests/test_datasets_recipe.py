"""Recipe validation: every error names the key path and what was expected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from wx_datasets.errors import RecipeError
from wx_datasets.recipe import load_recipe, parse_recipe

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "datasets"


def _recipe(**changes):
    recipe = {
        "dates": {"start": "2013-01-01", "end": "2013-01-02", "frequency": "6h"},
        "input": {"type": "netcdf", "path": "data/file.nc"},
    }
    for key, value in changes.items():
        if value is None:
            recipe.pop(key)
        else:
            recipe[key] = value
    return recipe


def test_valid_recipe_is_normalised(tmp_path):
    recipe = parse_recipe(
        _recipe(
            statistics={"start": "2013-01-01T06", "end": "2013-01-01T18:00"},
            nans={"default": "forbid", "sst": "allow"},
            output={"dates_per_shard": 4, "compression": "zstd"},
        ),
        base_dir=tmp_path,
    )
    assert recipe.dates.frequency == dt.timedelta(hours=6)
    assert recipe.dates.all_dates().size == 5
    assert recipe.input["path"] == str(tmp_path / "data" / "file.nc")
    assert recipe.normalised["input"]["path"] == str(tmp_path / "data" / "file.nc")
    assert recipe.statistics_start == np.datetime64("2013-01-01T06:00:00")
    assert recipe.nan_policy("sst") == "allow" and recipe.nan_policy("t2m") == "forbid"
    assert recipe.output.dates_per_shard == 4 and recipe.output.compression_level == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dates": None}, r"recipe\.dates: required key is missing"),
        ({"dates": "2013"}, r"recipe\.dates: expected a mapping, got str"),
        (
            {"dates": {"start": "2013-01-01", "end": "2013-01-02", "frequency": "6 parsecs"}},
            r"recipe\.dates\.frequency: frequency '6 parsecs': expected",
        ),
        (
            {"dates": {"start": "yesterday", "end": "2013-01-02", "frequency": "6h"}},
            r"recipe\.dates\.start: datetime 'yesterday'",
        ),
        (
            {"dates": {"start": "2013-01-01", "end": "2013-01-02T03:00", "frequency": "6h"}},
            r"recipe\.dates: date range: end .* is not reached",
        ),
        (
            {"dates": {"start": "2013-01-02", "end": "2013-01-01", "frequency": "6h"}},
            r"recipe\.dates: date range: end .* is before start",
        ),
        (
            {
                "dates": {
                    "start": "2013-01-01",
                    "end": "2013-01-02",
                    "frequency": "6h",
                    "missing": ["2013-01-01T03:00"],
                }
            },
            r"recipe\.dates\.missing\[0\]: 2013-01-01T03:00:00 is not one of the dataset dates",
        ),
        (
            {"dates": {"start": "2013-01-01", "end": "2013-01-02", "frequncy": "6h"}},
            r"recipe\.dates\.frequncy: unknown key",
        ),
        ({"input": None}, r"recipe\.input: required key is missing"),
        ({"input": {"path": "x.nc"}}, r"recipe\.input\.type: required key is missing"),
        ({"input": {"type": "netcdf", "path": 3}}, r"recipe\.input\.path: expected a file path"),
        ({"variables": "t"}, None),
        ({"variables": [1, 2]}, r"recipe\.variables: expected a list of names"),
        ({"variables": ["t", "t"]}, r"recipe\.variables: names are repeated"),
        ({"kinds": {"t": "boundary"}}, r"recipe\.kinds\.t: expected one of prognostic, forcing"),
        ({"nans": {"t": "sometimes"}}, r"recipe\.nans\.t: expected one of forbid, allow"),
        ({"rename": {"t": 5}}, r"recipe\.rename\.t: expected a new variable name"),
        (
            {"rename": {"t": "x", "u": "x"}},
            r"recipe\.rename: two variables are renamed to the same",
        ),
        (
            {"statistics": {"start": "2012-01-01"}},
            r"recipe\.statistics: period .* must lie within the dates",
        ),
        (
            {"output": {"dates_per_shard": 0}},
            r"recipe\.output\.dates_per_shard: expected an integer >= 1",
        ),
        ({"output": {"compression": "gzip"}}, r"recipe\.output\.compression: expected one of"),
        (
            {"output": {"longitudes": "east"}},
            r"recipe\.output\.longitudes: expected one of 0\.\.360",
        ),
        ({"colour": "blue"}, r"recipe\.colour: unknown key"),
    ],
)
def test_recipe_errors_name_the_key(tmp_path, changes, message):
    if message is None:  # a single name is accepted as a one-element list
        assert parse_recipe(_recipe(**changes), base_dir=tmp_path).variables == ("t",)
        return
    with pytest.raises(RecipeError, match=message):
        parse_recipe(_recipe(**changes), base_dir=tmp_path)


def test_environment_variables_in_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVE", "/archive")
    recipe = parse_recipe(
        _recipe(input={"type": "netcdf", "path": "${ARCHIVE}/era5/*.nc"}), base_dir=tmp_path
    )
    assert recipe.input["path"] == "/archive/era5/*.nc"
    monkeypatch.delenv("ARCHIVE")
    with pytest.raises(
        RecipeError, match=r"recipe\.input\.path: environment variable \$\{ARCHIVE\} is not set"
    ):
        parse_recipe(
            _recipe(input={"type": "netcdf", "path": "${ARCHIVE}/x.nc"}), base_dir=tmp_path
        )


def test_recipe_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.yaml: recipe file not found"):
        load_recipe(tmp_path / "nowhere.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("dates: [unclosed\n")
    with pytest.raises(RecipeError, match="broken.yaml: not valid YAML"):
        load_recipe(broken)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_recipes_are_valid(name, monkeypatch):
    monkeypatch.setenv("WX_SHARED_DATA", "/data")
    recipe = load_recipe(EXAMPLES / name)
    assert recipe.description
    assert recipe.dates.all_dates().size >= 1
