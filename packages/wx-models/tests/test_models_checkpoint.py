"""The checkpoint format: bit-identical round trips, refusal of altered and truncated files,
the first-format fixture, migrations and atomic writes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import wx_models.checkpoint as checkpoint_module
from wx_models import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint_metadata,
    save_checkpoint,
)
from wx_models.debug import tiny_inputs, tiny_weather_model
from wx_utils.artifacts import read_artifact_metadata
from wx_utils.metadata import MetadataError, MigrationRegistry, to_json

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "checkpoint_v1.safetensors"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = tiny_weather_model("transformer", grid_shape=[6, 8]).eval()
    path = tmp_path_factory.mktemp("checkpoint") / "model.safetensors"
    save_checkpoint(path, model, metadata={"licence": "CC-BY-4.0", "validation": {"rmse": 1.5}})
    return model, path


@pytest.mark.parametrize("family", ["gnn", "transformer"])
def test_round_trip_is_bit_identical(family, tmp_path):
    model = tiny_weather_model(family, edge_chunks=2).eval()
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={"training": {"epochs": 3}})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    x = tiny_inputs(model, batch=3)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert not loaded.training
    assert metadata["training"] == {"epochs": 3}
    assert metadata["format"] == "wx-checkpoint" and metadata["format_version"] == 1
    assert metadata["variables"]["input"] == model.input_variables
    assert loaded.output_variables == model.output_variables
    assert (loaded.time_step, loaded.input_steps) == ("6h", 2)
    assert torch.equal(loaded.latitudes, model.latitudes)


def test_header_holds_what_inference_needs(saved):
    model, path = saved
    header = read_artifact_metadata(path)  # wx_utils reads it without torch
    assert header["grid"] == {"cells": 48, "shape": [6, 8]}
    assert header["graph"]["edges"] == {
        "data->hidden": 144,
        "hidden->hidden": 48,
        "hidden->data": 144,
    }
    assert header["model"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert header["model"]["arguments"]["statistics"]["t_850"]["stdev"] == 15.0
    assert header["provenance"]["wx"]["wx-models"]
    tensors = load_file(path)
    assert tensors["grid/latitudes"].dtype == torch.float64
    assert torch.equal(
        tensors["graph/edges/data__hidden/edge_index"],
        model.graph_tensors["edges/data__hidden/edge_index"],
    )
    assert torch.equal(tensors["weights/input_normaliser.scale"], model.input_normaliser.scale)


def test_same_model_gives_same_bytes(saved, tmp_path):
    model, path = saved
    again = save_checkpoint(
        tmp_path / "again.safetensors",
        model,
        metadata={"licence": "CC-BY-4.0", "validation": {"rmse": 1.5}},
    )
    assert again.read_bytes() == path.read_bytes()


def test_altered_tensor_bytes_are_refused(saved, tmp_path):
    data = bytearray(saved[1].read_bytes())
    data[-5] ^= 0x01  # one bit of the last tensor
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch: the file was altered"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_altered_metadata_is_refused(saved, tmp_path):
    data = saved[1].read_bytes()
    needle = b'time_step\\":\\"6h'
    assert data.count(needle) == 2  # the arguments and the top level
    (tmp_path / "bad.safetensors").write_bytes(data.replace(needle, b'time_step\\":\\"3h'))
    assert read_checkpoint_metadata(tmp_path / "bad.safetensors")["time_step"] == "3h"
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(tmp_path / "bad.safetensors")


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (-100, "truncated: .* bytes on disk, the header describes"),
        (40, "truncated inside the header"),
        (5, "too short to be a safetensors file"),
    ],
)
def test_truncated_files_are_refused(saved, tmp_path, keep, message):
    data = saved[1].read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "cut.safetensors")


def test_other_files_are_refused(tmp_path):
    save_file({"x": torch.zeros(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="not a wx checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors")
    header = {"format": "wx-graph", "format_version": 1}
    save_file(
        {"x": torch.zeros(2)}, tmp_path / "graph.safetensors", metadata={"wx": to_json(header)}
    )
    with pytest.raises(
        MetadataError, match="expected a 'wx-checkpoint' artifact, found format 'wx-graph'"
    ):
        load_checkpoint(tmp_path / "graph.safetensors")
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_newer_format_version_names_both_versions(saved, tmp_path):
    tensors = load_file(saved[1])
    header = read_artifact_metadata(saved[1])
    header["format_version"] = 2
    save_file(tensors, tmp_path / "future.safetensors", metadata={"wx": to_json(header)})
    with pytest.raises(
        MetadataError, match="version 2 is newer than this reader understands \\(version 1\\)"
    ):
        load_checkpoint(tmp_path / "future.safetensors")


def test_first_format_fixture_loads_and_reproduces_its_outputs():
    assert FIXTURE.stat().st_size < 200_000
    assert read_artifact_metadata(FIXTURE)["format_version"] == 1
    model, metadata = load_checkpoint(FIXTURE)
    reference = load_file(DATA / "checkpoint_v1_reference.safetensors")
    with torch.no_grad():
        outputs = model(reference["inputs"])
    torch.testing.assert_close(outputs, reference["outputs"], rtol=1e-6, atol=1e-7)
    assert metadata["validation"]["rmse"]["t_850"] == 1.25
    assert model.output_variables == ["t_850", "q_850", "tp"]


def test_older_versions_are_upgraded_by_registered_migrations(monkeypatch):
    registry = MigrationRegistry()

    @registry.register("wx-checkpoint", 1)
    def add_units(metadata):
        metadata["units"] = {"t_850": "K"}
        return metadata

    monkeypatch.setattr(checkpoint_module, "MIGRATIONS", registry)
    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_FORMAT_VERSION", 2)
    _, metadata = load_checkpoint(FIXTURE)
    assert metadata["format_version"] == 2 and metadata["units"] == {"t_850": "K"}
    monkeypatch.setattr(checkpoint_module, "MIGRATIONS", MigrationRegistry())
    with pytest.raises(
        MetadataError, match="no migration registered for wx-checkpoint format version 1 to 2"
    ):
        load_checkpoint(FIXTURE)


def test_metadata_errors(tmp_path):
    model = tiny_weather_model()
    with pytest.raises(ValueError, match=r"keys \['format_version'\] are reserved"):
        save_checkpoint(tmp_path / "m.safetensors", model, metadata={"format_version": 3})
    with pytest.raises(ValueError, match=r"metadata\['optimiser'\] is not JSON"):
        save_checkpoint(tmp_path / "m.safetensors", model, metadata={"optimiser": object()})
    with pytest.raises(TypeError, match="expected a WeatherModel, got Linear"):
        save_checkpoint(tmp_path / "m.safetensors", torch.nn.Linear(2, 2), metadata={})


def test_compiled_model_saves_its_weather_model(tmp_path):
    model = tiny_weather_model()
    path = save_checkpoint(tmp_path / "m.safetensors", torch.compile(model), metadata={})
    assert load_checkpoint(path)[1]["model"]["class"] == "WeatherModel"


def test_an_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module, "save_file", fail)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "m.safetensors", tiny_weather_model(), metadata={})
    assert list(tmp_path.iterdir()) == []


def test_header_length_prefix_is_checked(tmp_path):
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(CheckpointError, match="header length"):
        load_checkpoint(tmp_path / "huge.safetensors")


def test_trainable_features_round_trip(tmp_path):
    model = tiny_weather_model("gnn", trainable_features={"data": 3, "hidden": 2}).eval()
    with torch.no_grad():
        for parameter in model.network.trainable.values():
            parameter.normal_()
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["trainable_features"] == {"data": 3, "hidden": 2}
    x = tiny_inputs(model, batch=2)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_cell_readout_round_trip(tmp_path):
    model = tiny_weather_model("gnn", cell_readout=True).eval()
    with torch.no_grad():
        model.network.cell_readout.normal_()
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["cell_readout"] is True
    x = tiny_inputs(model, batch=2)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
        assert not torch.equal(loaded(x), tiny_weather_model("gnn").eval()(x))
