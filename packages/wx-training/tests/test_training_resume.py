"""A run resumed from its checkpoint ends bit-identical to an uninterrupted one (CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from wx_models import load_checkpoint
from wx_training.checkpoints import ResumeError, load_training_checkpoint
from wx_training.config import compose_config
from wx_training.train import train


class SimulatedCrashError(RuntimeError):
    pass


def crash_at(step: int):
    def callback(trainer):
        if trainer.step == step:
            raise SimulatedCrashError(f"simulated failure after step {step}")

    return callback


def metric_history(run_dir, key: str) -> dict[int, float]:
    lines = (run_dir / "tracking" / "metrics.jsonl").read_text().splitlines()
    return {item["step"]: item["value"] for item in map(json.loads, lines) if item["key"] == key}


def test_resumed_run_is_bit_identical(tiny_overrides, tmp_path):
    # Six steps, a rollout curriculum that lengthens at step 4, two micro-batches per step, a
    # loader worker: everything that could make a resumed run drift.
    common = (
        "training.max_steps=6",
        "training.accumulate=2",
        "training.rollout.maximum=2",
        "training.rollout.every=4",
        "training.checkpoint.every=3",
        "training.validation.every=3",
        "training.checkpoint.keep_last=5",
        "data.num_workers=1",
        "training.validation.plots=false",
    )
    whole = train(compose_config(tiny_overrides(*common, run="whole")))
    assert whole["step"] == 6
    with pytest.raises(SimulatedCrashError):
        train(compose_config(tiny_overrides(*common, run="parts")), callbacks=[crash_at(3)])
    interrupted = tmp_path / "parts"
    assert sorted(p.name for p in (interrupted / "checkpoints").glob("training-step*")) == [
        "training-step00000003.safetensors"
    ]
    resumed = train(
        compose_config(tiny_overrides(*common, f"resume={interrupted}", "run_dir=null"))
    )
    assert resumed["run_dir"] == str(interrupted) and resumed["step"] == 6

    final_whole = load_training_checkpoint(
        tmp_path / "whole/checkpoints/training-step00000006.safetensors"
    )
    final_parts = load_training_checkpoint(
        interrupted / "checkpoints/training-step00000006.safetensors"
    )
    assert final_whole.model_state.keys() == final_parts.model_state.keys()
    for name, value in final_whole.model_state.items():
        assert torch.equal(value, final_parts.model_state[name]), name
    for index, state in final_whole.optimizer_state["state"].items():
        for key, value in state.items():
            assert torch.equal(value, final_parts.optimizer_state["state"][index][key])
    assert final_whole.data_position == final_parts.data_position
    loss_whole = metric_history(tmp_path / "whole", "train/loss")
    loss_parts = metric_history(interrupted, "train/loss")
    assert list(loss_whole) == [1, 2, 3, 4, 5, 6]
    assert loss_parts == loss_whole  # steps 4-6 from the resumed attempt, bit-equal
    assert metric_history(interrupted, "train/rollout")[5] == 2.0

    # The inference checkpoint of the run: loadable, with its training context and scores.
    model, metadata = load_checkpoint(tmp_path / "whole/checkpoints/inference-last.safetensors")
    assert metadata["training"]["step"] == 6
    assert metadata["training"]["dataset"]["validation"]["start"] == "2013-01-11T00:00"
    assert metadata["training"]["config"]["training"]["accumulate"] == 2
    assert metadata["validation"]["rmse"]["air"] == whole["validation"]["rmse"]["air"]
    trained = dict(final_whole.model_state.items())
    for name, value in model.state_dict().items():
        assert torch.equal(value, trained[name]), name


def test_resume_refuses_another_model(tiny_overrides, tmp_path):
    train(
        compose_config(
            tiny_overrides("training.max_steps=2", "training.validation.plots=false", run="source")
        )
    )
    checkpoint = tmp_path / "source/checkpoints/training-step00000002.safetensors"
    with pytest.raises(
        ResumeError,
        match=r"another model: arguments.latent_size is 16 in the checkpoint and 8 in this run",
    ):
        train(
            compose_config(
                tiny_overrides("model.latent_size=8", f"resume={checkpoint}", run="other")
            )
        )
    inference = tmp_path / "source/checkpoints/inference-last.safetensors"
    with pytest.raises(
        ResumeError, match="an inference checkpoint: start from its weights with fork.checkpoint"
    ):
        train(compose_config(tiny_overrides(f"resume={inference}", run="other2")))
    assert not (tmp_path / "other").exists()  # nothing was written before the error
