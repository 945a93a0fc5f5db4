"""Fixtures for wx-training tests: a two-week NCEP air-temperature store and tiny run configs."""

from __future__ import annotations

import logging

import pytest
import torch

from wx_utils.testdata import shared_data_file

# 2013-01-01 .. 2013-01-14, 6-hourly: 56 dates of real NCEP/NCAR reanalysis (25 x 53 grid).
NCEP_RECIPE = {
    "name": "ncep-air-two-weeks",
    "description": "NCEP/NCAR air temperature at sigma 0.995, first two weeks of 2013",
    "dates": {"start": "2013-01-01T00:00", "end": "2013-01-14T18:00", "frequency": "6h"},
    "input": {"type": "netcdf", "path": None, "variables": ["air"]},
    "statistics": {"start": "2013-01-01T00:00", "end": "2013-01-10T18:00"},
}


@pytest.fixture(autouse=True)
def _quiet_and_single_threaded(monkeypatch):
    # Two threads on a shared 2-core machine spin against each other; one is faster here.
    monkeypatch.setenv("WX_PROGRESS", "0")
    torch.set_num_threads(1)
    yield
    # The CLI's log handler writes to this test's captured stderr, which pytest closes.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_wx", False)]:
        root.removeHandler(handler)


@pytest.fixture(scope="session")
def ncep_store(tmp_path_factory):
    """The two-week store, built once per session."""
    from wx_datasets import create

    try:
        source = shared_data_file("air_temperature.nc")
    except FileNotFoundError as error:
        pytest.skip(str(error))
    recipe = {**NCEP_RECIPE, "input": {**NCEP_RECIPE["input"], "path": str(source)}}
    return create(recipe, tmp_path_factory.mktemp("ncep") / "air.zarr")


@pytest.fixture
def tiny_overrides(ncep_store, tmp_path):
    """Overrides for a tiny regional run on the two-week store (train 10 days, validate 4)."""

    def make(*extra: str, run: str = "run") -> list[str]:
        return [
            "data=ncep_air",
            "graph=ncep_air",
            "model=tiny",
            "training=tiny",
            "hardware=cpu",
            "tracking=off",
            f"data.dataset={ncep_store}",
            "data.train.end=2013-01-10T18:00",
            "data.validation.start=2013-01-11T00:00",
            "data.validation.end=null",
            "data.num_workers=0",
            "model.latent_size=16",
            "model.processor_layers=1",
            "hardware.num_threads=1",
            "training.batch_size=2",
            "training.max_steps=4",
            "training.log_every=1",
            "training.schedule.warmup_steps=2",
            "training.validation.every=2",
            "training.validation.rollout=2",
            "training.validation.batch_size=4",
            "training.validation.max_batches=2",
            "training.checkpoint.every=2",
            f"run_dir={tmp_path / run}",
            *extra,
        ]

    return make
