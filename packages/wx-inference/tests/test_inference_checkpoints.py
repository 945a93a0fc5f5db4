"""Safety and compatibility: no unpickling, damaged files refused, the v1 format still runs."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import wx_models
from wx_inference.checkpoint import CheckpointNotFoundError, describe_checkpoint
from wx_inference.cli import main
from wx_inference.forecaster import Forecaster

DATA = Path(__file__).resolve().parent / "data"


def load_data_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_v1_checkpoint", DATA / "make_v1_checkpoint.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_first_format_version_checkpoint_still_runs(tmp_path):
    module = load_data_module()
    path = DATA / "wx-checkpoint-v1.safetensors"
    assert describe_checkpoint(path)["format_version"] == 1
    inputs = tmp_path / "v1-input.nc"
    module.v1_input().to_netcdf(inputs)
    forecast = Forecaster.from_checkpoint(path).forecast(str(inputs), ["2020-03-01T00"], "12h")
    expected = json.loads((DATA / "wx-checkpoint-v1-expected.json").read_text())
    np.testing.assert_allclose(forecast["t"].values[0], np.array(expected["t"]), atol=2e-3)
    assert forecast["t"].attrs["units"] == "K"


def test_loading_never_unpickles(monkeypatch, ncep_checkpoint):
    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    forecaster = Forecaster.from_checkpoint(ncep_checkpoint)
    assert forecaster.spec.prognostic == ("air",)


def test_truncated_checkpoint_is_a_clear_error(ncep_checkpoint, tmp_path, capsys):
    damaged = tmp_path / "truncated.safetensors"
    damaged.write_bytes(ncep_checkpoint.read_bytes()[:-1000])
    with pytest.raises(wx_models.CheckpointError, match="truncated"):
        Forecaster.from_checkpoint(damaged)
    assert main(["inspect", str(damaged)]) == 2
    assert "truncated" in capsys.readouterr().err


def test_altered_checkpoint_is_a_clear_error(ncep_checkpoint, tmp_path):
    altered = tmp_path / "altered.safetensors"
    shutil.copy(ncep_checkpoint, altered)
    content = bytearray(altered.read_bytes())
    content[-9] ^= 0xFF  # one byte of the last tensor
    altered.write_bytes(bytes(content))
    with pytest.raises(wx_models.CheckpointError, match="checksum mismatch"):
        Forecaster.from_checkpoint(altered)


def test_missing_checkpoint(tmp_path, capsys):
    with pytest.raises(CheckpointNotFoundError, match="nope.safetensors: no such file"):
        Forecaster.from_checkpoint(tmp_path / "nope.safetensors")
    assert main(["inspect", str(tmp_path / "nope.safetensors")]) == 2
    assert "nope.safetensors: no such file" in capsys.readouterr().err


def test_inspect_describes_the_checkpoint(ncep_checkpoint, capsys):
    assert main(["inspect", str(ncep_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "prognostic: air" in out and "forcing: cos_julian_day, sin_julian_day, insolation" in out
    assert "time step: 6h, input steps: 2" in out and "grid: 1325 cells, shape [25, 53]" in out
    assert main(["inspect", "--json", str(ncep_checkpoint)]) == 0
    description = json.loads(capsys.readouterr().out)
    assert description["graph"]["nodes"]["data"] == 1325
    assert description["architecture"]["latent_size"] == 16
    # what the model was built with, defaults included
    assert description["architecture"]["climatology_harmonics"] == 2
