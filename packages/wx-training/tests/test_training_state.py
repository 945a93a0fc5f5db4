"""Tensors + JSON state encoding, RNG capture/restore, schedules, sampler and loss weights."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from wx_training.checkpoints import (
    CheckpointFolder,
    load_training_checkpoint,
    save_training_checkpoint,
)
from wx_training.data import WindowBatchSampler, window_starts
from wx_training.losses import LossConfigError, WeightedMSE, node_weights, variable_weights
from wx_training.schedules import WarmupCosine, build_scheduler, rollout_at
from wx_training.schema import RolloutConfig
from wx_training.seeding import capture_rng_state, restore_rng_state, seed_everything
from wx_training.state_io import join_state, lists_to_tensors, split_state, tensors_to_lists


def trained_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95))
    scheduler = build_scheduler(optimizer, warmup_steps=2, total_steps=10, lr=1e-2, min_lr=1e-4)
    for _ in range(3):
        model(torch.randn(5, 3)).square().mean().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler


def test_optimizer_state_round_trips_through_tensors_and_json():
    _, optimizer, _ = trained_optimizer()
    tensors: dict[str, torch.Tensor] = {}
    skeleton = split_state(optimizer.state_dict(), "optimizer", tensors)
    import json

    rebuilt = join_state(json.loads(json.dumps(skeleton)), tensors)
    original = optimizer.state_dict()
    assert set(rebuilt["state"]) == {0, 1, 2, 3}  # integer keys survive JSON
    assert rebuilt["param_groups"][0]["betas"] == (0.9, 0.95)  # tuples too
    for index, state in original["state"].items():
        for key, value in state.items():
            assert torch.equal(rebuilt["state"][index][key], value)
    assert tensors_to_lists(original["state"][0]["exp_avg"])["__tensor__"]["shape"] == [4, 3]
    assert torch.equal(
        lists_to_tensors(tensors_to_lists(original["state"][0]["exp_avg"])),
        original["state"][0]["exp_avg"],
    )


def test_training_checkpoint_round_trip_and_rotation(tmp_path):
    model, optimizer, scheduler = trained_optimizer()
    folder = CheckpointFolder(tmp_path, prefix="training", keep_last=2)
    seed_everything(3)
    rng = capture_rng_state({})
    for step in (10, 20, 30):
        path = save_training_checkpoint(
            folder.path_for(step),
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            rng_states=[rng],
            step=step,
            data_position={"epoch": 1, "batch": 7},
            model_signature={"family": "test"},
            provenance={"test": True},
        )
        folder.prune()
    assert [step for step, _ in folder.steps()] == [20, 30]
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left behind
    folder.mark_best(path)
    loaded = load_training_checkpoint(folder.best_path)
    assert loaded.step == 30 and loaded.data_position == {"epoch": 1, "batch": 7}
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.model_state[name], value)
    assert loaded.scheduler_state["last_epoch"] == scheduler.state_dict()["last_epoch"] == 3
    _fresh_model, fresh_optimizer, fresh_scheduler = trained_optimizer()
    fresh_optimizer.load_state_dict(loaded.optimizer_state)
    fresh_scheduler.load_state_dict(loaded.scheduler_state)
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()


def test_rng_states_restore_every_generator():
    generator = torch.Generator().manual_seed(5)
    seed_everything(11)
    state = capture_rng_state({"loader": generator})
    first = (
        random.random(),
        np.random.rand(),
        torch.rand(1).item(),
        torch.rand(1, generator=generator).item(),
    )
    seed_everything(99)
    torch.rand(3, generator=generator)
    restore_rng_state(state, {"loader": generator})
    second = (
        random.random(),
        np.random.rand(),
        torch.rand(1).item(),
        torch.rand(1, generator=generator).item(),
    )
    assert first == second


def test_warmup_then_cosine():
    schedule = WarmupCosine(warmup_steps=4, total_steps=14, min_factor=0.1)
    assert [schedule(step) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert schedule(9) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the decay
    assert schedule(14) == pytest.approx(0.1) and schedule(100) == pytest.approx(0.1)


def test_rollout_curriculum():
    config = RolloutConfig(start=1, maximum=3, every=10, increment=1)
    assert [rollout_at(step, config) for step in (0, 9, 10, 19, 20, 35, 1000)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        3,
    ]


def test_batch_sampler_splits_global_batches_and_resumes():
    single = WindowBatchSampler(10, batch_size=4, seed=1)
    ranks = [WindowBatchSampler(10, batch_size=2, rank=r, world_size=2, seed=1) for r in range(2)]
    for epoch in (0, 1):
        for sampler in (single, *ranks):
            sampler.set_epoch(epoch)
        whole = list(single)
        assert len(whole) == 2 == len(single)  # 10 // 4, the incomplete batch dropped
        split = [list(sampler) for sampler in ranks]
        for batch, (a, b) in enumerate(zip(*split, strict=True)):
            assert a + b == whole[batch]
    single.set_epoch(1, start_batch=1)
    assert list(single) == whole[1:]


def test_windows_skip_gaps_and_missing_dates():
    dates = np.datetime64("2013-01-01T00", "s") + np.array(
        [0, 6, 12, 18, 30, 36, 42, 48]
    ) * np.timedelta64(3600, "s")
    step = np.timedelta64(6 * 3600, "s")
    assert window_starts(dates, 0, 8, length=3, step=step).tolist() == [0, 1, 4, 5]
    missing = np.zeros(8, bool)
    missing[5] = True
    assert window_starts(dates, 0, 8, length=3, step=step, missing=missing).tolist() == [0, 1]
    assert window_starts(dates, 1, 7, length=3, step=step).tolist() == [1, 4]


def test_loss_weights_follow_levels_areas_and_interior():
    names = ["t_850", "t_500", "msl", "q_50"]
    weights = variable_weights(
        names, weights={"msl": 2.0}, scaling="linear", minimum=0.2, metadata={}
    )
    raw = np.array([0.85, 0.5, 2.0, 0.2])
    assert weights == pytest.approx(raw / raw.sum())
    with pytest.raises(
        LossConfigError, match=r"variable_weights: \['z_500'\] are not output variables"
    ):
        variable_weights(names, weights={"z_500": 1.0}, scaling="linear", minimum=0.2, metadata={})
    latitudes = np.array([0.0, 60.0, 60.0])
    cosine = node_weights(
        source="auto",
        latitudes=latitudes,
        dataset_area_weight=None,
        graph_area_weight=None,
        interior_mask=None,
    )
    assert cosine == pytest.approx([0.5, 0.25, 0.25])
    interior = node_weights(
        source="auto",
        latitudes=latitudes,
        dataset_area_weight=np.array([1.0, 3.0, 1.0]),
        graph_area_weight=None,
        interior_mask=np.array([True, True, False]),
    )
    assert interior == pytest.approx([0.25, 0.75, 0.0])
    loss = WeightedMSE(
        node_weight=interior, variable_weight=np.array([0.5, 0.5]), scale=np.array([2.0, 1.0])
    )
    prediction = torch.zeros(1, 3, 2)
    target = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [100.0, 100.0]]])
    # cell 0: ((2/2)^2 * 0.5) * 0.25; cell 1: (1^2 * 0.5) * 0.75; cell 2 is boundary.
    assert loss(prediction, target).item() == pytest.approx(0.125 + 0.375)
