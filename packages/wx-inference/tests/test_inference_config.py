"""Run configurations: the packaged examples, date ranges, overrides and their errors."""

from pathlib import Path

import numpy as np
import pytest

from wx_inference.config import ConfigError, init_dates, load_run_config

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "inference"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_configs_load(name):
    with pytest.raises(ConfigError, match=r"missing key\(s\) \['checkpoint'\]"):
        load_run_config(EXAMPLES / name)
    config = load_run_config(EXAMPLES / name, ["checkpoint=model.safetensors"])
    assert config.checkpoint == "model.safetensors"
    assert init_dates(config.init_dates).size >= 1


def test_ncep_example_runs_every_day_of_january():
    config = load_run_config(EXAMPLES / "ncep-regional.yaml", ["checkpoint=x", "lead_time=2d"])
    dates = init_dates(config.init_dates)
    assert dates.size == 31 and str(dates[-1]) == "2014-01-31T00:00:00"
    assert config.lead_time == "2d" and config.format == "zarr"


def test_whole_value_overrides_replace_a_mapping():
    """init_dates=[...] over the example's {start, end, frequency} is the new list."""
    config = load_run_config(
        EXAMPLES / "ncep-regional.yaml",
        ["checkpoint=x", "init_dates=[2014-01-05T00:00,2014-01-06T12:00]", "input=other.zarr"],
    )
    assert [str(d) for d in init_dates(config.init_dates)] == [
        "2014-01-05T00:00:00",
        "2014-01-06T12:00:00",
    ]
    assert config.input == "other.zarr"
    config = load_run_config(
        EXAMPLES / "ncep-regional.yaml", ["checkpoint=x", "init_dates.end=2014-01-03T00:00"]
    )
    assert init_dates(config.init_dates).size == 3  # a sub-key still merges


def test_threads_must_be_positive():
    config = load_run_config(EXAMPLES / "ncep-regional.yaml", ["checkpoint=x", "threads=3"])
    assert config.threads == 3
    with pytest.raises(ConfigError, match="threads 0: expected a positive number"):
        load_run_config(EXAMPLES / "ncep-regional.yaml", ["checkpoint=x", "threads=0"])


def test_init_dates_forms_and_errors():
    assert init_dates("2014-01-02T06").tolist() == [np.datetime64("2014-01-02T06:00:00")]
    listed = init_dates(["2014-01-03", "2014-01-01"])
    assert [str(d) for d in listed] == ["2014-01-01T00:00:00", "2014-01-03T00:00:00"]
    with pytest.raises(ConfigError, match="repeated"):
        init_dates(["2014-01-01", "2014-01-01T00"])
    with pytest.raises(ConfigError, match="start, end, frequency"):
        init_dates({"start": "2014-01-01", "every": "1d"})
    with pytest.raises(ValueError, match="not reached"):
        init_dates({"start": "2014-01-01", "end": "2014-01-02", "frequency": "5h"})


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_run_config(tmp_path / "nope.yaml")
