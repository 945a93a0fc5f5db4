"""Bad input fails with an error naming what is wrong, before any training step."""

from __future__ import annotations

import pytest
import torch

from wx_graphs import build_graph, save_graph
from wx_models import save_checkpoint
from wx_training.cli import main
from wx_training.components import GraphMismatchError, build_components
from wx_training.config import compose_config
from wx_training.data import DataConfigError
from wx_training.fork import ForkError, fork_weights, source_name
from wx_training.train import train


def never_step(trainer):
    raise AssertionError("a training step ran")


def test_variable_missing_from_the_dataset(tiny_overrides, tmp_path):
    config = compose_config(tiny_overrides("data.prognostic=[air,t_850]"))
    with pytest.raises(
        DataConfigError,
        match=r"data.prognostic: variable\(s\) \['t_850'\] not in dataset .* \(it has air\)",
    ):
        train(config, callbacks=[never_step])
    assert not (tmp_path / "run").exists()


def test_graph_built_for_another_grid(tiny_overrides, tmp_path):
    recipe = {
        "nodes": {
            "data": {"kind": "regular", "resolution": 10.0},
            "hidden": {"kind": "icosahedral", "refinement": 1},
        },
        "edges": [
            {"source": "data", "target": "hidden", "builder": "grid2mesh"},
            {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
            {"source": "hidden", "target": "data", "builder": "mesh2grid"},
        ],
    }
    save_graph(build_graph(recipe), tmp_path / "global.safetensors")
    config = compose_config(
        tiny_overrides(f"graph.path={tmp_path / 'global.safetensors'}", "graph.recipe=null")
    )
    with pytest.raises(
        GraphMismatchError,
        match=r"global.safetensors: 684 data nodes, but the dataset grid has 1325 cells",
    ):
        train(config, callbacks=[never_step])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.optimizer.lr=0", "config key training.optimizer.lr: must be positive, got 0.0"),
        (
            "training.optimizer.lr=-0.1",
            "config key training.optimizer.lr: must be positive, got -0.1",
        ),
        ("training.batch_size=0", "config key training.batch_size: must be positive, got 0"),
        ("training.batch_size=-1", "config key training.batch_size: must be positive, got -1"),
        ("training.optimiser.lr=1", "config key training.optimiser: unknown key"),
        (
            "data.dataset=/nonexistent/air.zarr",
            "config key data.dataset: /nonexistent/air.zarr does not exist",
        ),
        ("data.validation.start=2020-01-01", "config key data.validation: period 2020-01-01"),
        (
            "model.climatology=[insolation]",
            "config key model.climatology: 'insolation' is not a prognostic variable",
        ),
    ],
)
def test_cli_reports_bad_values_in_one_line(tiny_overrides, tmp_path, capsys, override, message):
    assert main(["train", *tiny_overrides(override)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after any log lines
    assert error.startswith("wx-training: error: ") and message in error
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_fork_strict_and_partial(tiny_overrides, tmp_path):
    torch.manual_seed(0)
    source = build_components(compose_config(tiny_overrides()))
    save_checkpoint(tmp_path / "source.safetensors", source.model, metadata={})
    torch.manual_seed(1)
    same = build_components(compose_config(tiny_overrides()))
    report = fork_weights(same.model, tmp_path / "source.safetensors", strict=True, mapping={})
    assert not report["initialised"]
    for (name, value), (_, expected) in zip(
        same.model.named_parameters(), source.model.named_parameters(), strict=True
    ):
        assert torch.equal(value, expected), name

    # A new input variable changes the first layer: strict refuses, partial initialises it.
    torch.manual_seed(2)
    wider = build_components(
        compose_config(
            tiny_overrides(
                "data.computed_forcings=[cos_julian_day,sin_julian_day,cos_local_time,sin_local_time,insolation,cos_latitude]"
            )
        )
    )
    fresh = {name: value.clone() for name, value in wider.model.named_parameters()}
    with pytest.raises(
        ForkError,
        match=r"does not fit this model strictly: network\.grid_embedding\.[\w.]+ \(shape",
    ):
        fork_weights(wider.model, tmp_path / "source.safetensors", strict=True, mapping={})
    report = fork_weights(wider.model, tmp_path / "source.safetensors", strict=False, mapping={})
    resized = {entry.split(" ")[0] for entry in report["initialised"]}
    assert resized and all(name.startswith("network.grid_embedding.") for name in resized)
    expected = dict(source.model.named_parameters())
    for name, value in wider.model.named_parameters():
        assert torch.equal(value, fresh[name] if name in resized else expected[name]), name


def test_fork_mapping_names():
    mapping = {"network.processor.": "network.old_processor.", "head.weight": "output.weight"}
    assert (
        source_name("network.processor.0.mlp.weight", mapping)
        == "network.old_processor.0.mlp.weight"
    )
    assert source_name("head.weight", mapping) == "output.weight"
    assert source_name("network.encoder.weight", mapping) == "network.encoder.weight"
