"""Two processes with gloo (DDP) match one process with the same global batch."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from wx_training.config import compose_config
from wx_training.train import train


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_rank(rank: int, world_size: int, port: int, config) -> None:
    """One rank, started the way torchrun starts it: through environment variables."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    train(config)


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
    mp.start_processes(
        run_rank, args=(2, free_port(), pair), nprocs=2, join=True, start_method="fork"
    )
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
