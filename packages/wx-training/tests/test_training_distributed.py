"""Two processes with gloo (DDP) match one process with the same global batch."""

from __future__ import annotations

import json

import pytest
import torch

from wx_models.sharding.local import run_local
from wx_training.config import compose_config
from wx_training.train import train


def run_rank(rank: int, world_size: int, config, record=None) -> None:
    """One rank, started the way torchrun starts it: through environment variables.

    With ``record`` (a folder), each rank writes what it holds after its first step.
    """
    train(config, callbacks=[] if record is None else [_recorder(record, rank)])


def run_ranks(world_size: int, config, record=None) -> None:
    run_local(world_size, run_rank, config, record, process_group="environment")


def _recorder(folder, rank: int):
    def record(trainer) -> None:
        if trainer.step == 1:
            dataset = trainer.loader.dataset
            held = {
                "cells": None
                if trainer.sharding.cells is None
                else trainer.sharding.cells.tolist(),
                "sample_cells": int(dataset[0]["fields"].shape[1]),  # [time, cell, variable]
                "model_cells": trainer.model.num_cells,
                "group": trainer.sharding.groups.group_index,
            }
            (folder / f"rank{rank}.json").write_text(json.dumps(held))

    return record


def losses(run_dir) -> dict[int, float]:
    lines = map(json.loads, (run_dir / "tracking" / "metrics.jsonl").read_text().splitlines())
    return {item["step"]: item["value"] for item in lines if item["key"] == "train/loss"}


@pytest.mark.distributed
def test_two_gloo_processes_match_one(tiny_overrides, tmp_path):
    common = (
        "training.max_steps=4",
        "training.validation.plots=false",
        "hardware.distributed_backend=gloo",
    )
    pair = compose_config(tiny_overrides(*common, "training.batch_size=2", run="pair"))
    # Forked ranks start at once (no re-import of torch); each uses one thread.
    run_ranks(2, pair)
    single = train(compose_config(tiny_overrides(*common, "training.batch_size=4", run="single")))

    pair_losses, single_losses = losses(tmp_path / "pair"), losses(tmp_path / "single")
    assert list(single_losses) == [1, 2, 3, 4]
    assert pair_losses.keys() == single_losses.keys()
    for step, value in single_losses.items():
        assert abs(pair_losses[step] - value) <= 1e-6, (step, pair_losses[step], value)

    # Validation is split over the ranks and reduced: the same scores as one process.
    lines = map(
        json.loads, (tmp_path / "pair" / "tracking" / "metrics.jsonl").read_text().splitlines()
    )
    pair_rmse = [item["value"] for item in lines if item["key"] == "val/rmse/air/12h"]
    assert pair_rmse[-1] == pytest.approx(single["validation"]["rmse"]["air"][1], rel=1e-5)
    header = json.loads((tmp_path / "pair" / "provenance.json").read_text())
    assert len(header) == 1  # rank 0 alone wrote the run directory
    checkpoint = tmp_path / "pair" / "checkpoints" / "training-step00000004.safetensors"
    from wx_training.checkpoints import load_training_checkpoint

    state = load_training_checkpoint(checkpoint)
    assert len(state.rng_states) == 2 and state.data_position["world_size"] == 2


def inference_weights(run_dir, step: int) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = run_dir / "checkpoints" / f"inference-step{step:08d}.safetensors"
    return load_file(path)


@pytest.mark.distributed
@pytest.mark.parametrize(("world_size", "batch_size"), [(2, 4), (4, 2)])
def test_sharded_training_matches_one_process(tiny_overrides, tmp_path, world_size, batch_size):
    """gpus_per_model=2: one model over two ranks (with 2 groups: data-parallel too)."""
    common = (
        "training.max_steps=3",
        "training.validation.every=3",
        "training.checkpoint.every=3",
        "training.validation.plots=false",
        "hardware.distributed_backend=gloo",
    )
    sharded = compose_config(
        tiny_overrides(
            *common,
            "hardware.gpus_per_model=2",
            f"training.batch_size={batch_size}",
            run="sharded",
        )
    )
    run_ranks(world_size, sharded, tmp_path)
    single = train(compose_config(tiny_overrides(*common, "training.batch_size=4", run="single")))

    # Each rank of a group holds and reads a disjoint part of the 1325 cells, which together
    # make the whole grid; both groups split the grid the same way.
    held = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world_size)]
    for group in range(world_size // 2):
        first, second = (item for item in held if item["group"] == group)
        assert sorted(first["cells"] + second["cells"]) == list(range(1325))
        for item in (first, second):
            assert item["sample_cells"] == item["model_cells"] == len(item["cells"]) < 1325

    sharded_losses, single_losses = losses(tmp_path / "sharded"), losses(tmp_path / "single")
    assert list(single_losses) == [1, 2, 3] and sharded_losses.keys() == single_losses.keys()
    for step, value in single_losses.items():
        assert sharded_losses[step] == pytest.approx(value, rel=1e-5, abs=1e-6), step

    # The checkpoint holds the whole model: the same weights and grid as the unsharded run.
    weights, reference = (inference_weights(tmp_path / name, 3) for name in ("sharded", "single"))
    assert weights.keys() == reference.keys()
    for name, value in reference.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
    lines = map(
        json.loads,
        (tmp_path / "sharded" / "tracking" / "metrics.jsonl").read_text().splitlines(),
    )
    rmse = [item["value"] for item in lines if item["key"] == "val/rmse/air/12h"]
    assert rmse[-1] == pytest.approx(single["validation"]["rmse"]["air"][1], rel=1e-5)


@pytest.mark.distributed
def test_sharded_run_resumes_unsharded(tiny_overrides, tmp_path):
    """A training checkpoint written at gpus_per_model=2 resumes in one process, exactly."""
    common = (
        "training.max_steps=4",
        "training.validation.plots=false",
        "hardware.distributed_backend=gloo",
        "training.batch_size=4",
    )
    first = compose_config(
        tiny_overrides(*common, "training.max_steps=2", "hardware.gpus_per_model=2", run="a")
    )
    run_ranks(2, first)
    checkpoint = tmp_path / "a" / "checkpoints" / "training-step00000002.safetensors"
    train(compose_config(tiny_overrides(*common, f"resume={checkpoint}", run="a")))
    train(compose_config(tiny_overrides(*common, run="straight")))

    resumed, straight = losses(tmp_path / "a"), losses(tmp_path / "straight")
    assert list(straight) == [1, 2, 3, 4]
    for step in (3, 4):
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5, abs=1e-6), step


def test_gpus_per_model_needs_that_many_processes(tiny_overrides):
    config = compose_config(tiny_overrides("hardware.gpus_per_model=2"))
    with pytest.raises(ValueError, match="hardware.gpus_per_model: 2 needs that many processes"):
        train(config)
