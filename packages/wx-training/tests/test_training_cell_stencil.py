"""A model with ``cell_stencil`` starts as each cell's ridge regression on the training windows."""

from __future__ import annotations

import pytest
import torch

from wx_models import load_checkpoint
from wx_models.cell_stencil import STENCIL_PRIORS
from wx_training.components import build_components
from wx_training.config import CHOICES, ConfigError, compose_config
from wx_training.rollout import Rollout
from wx_training.train import train


def one_step(components) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw targets and the model's raw outputs on every training window, ``[window, cell,
    output]`` each."""
    model, layout = components.model, components.layout
    rollout = Rollout.for_model(model, layout.sample_variables, None)
    dataset = components.train_dataset
    fields = torch.stack([dataset[i]["fields"] for i in range(len(dataset))])
    x, y = rollout.history(fields), rollout.target(fields, 0)
    with torch.no_grad():
        return model.raw_targets(x, y), model.network(model.network_inputs(x))


def test_the_stencil_is_fitted_to_the_training_windows(tiny_overrides):
    config = compose_config(tiny_overrides("model.cell_stencil=9", "training.rollout.maximum=1"))
    components = build_components(config)
    stencil = components.model.network.cell_stencil
    assert stencil.size == 9 and stencil.weight.abs().sum() > 0
    targets, outputs = one_step(components)
    residuals = targets - outputs
    # least squares with an unpenalised intercept per cell: every cell's residual averages to
    # zero over the windows it was fitted on, and the fit explains most of the 6 h change
    assert residuals.mean(0).abs().max() < 1e-3
    assert residuals.square().mean() < 0.5 * (targets - targets.mean(0)).square().mean()


def test_without_the_fit_the_stencil_starts_at_zero(tiny_overrides):
    config = compose_config(tiny_overrides("model.cell_stencil=9", "model.cell_stencil_fit=false"))
    stencil = build_components(config).model.network.cell_stencil
    assert not stencil.weight.any() and not stencil.bias.any()


def test_the_stencil_basis_joins_the_fit(tiny_overrides):
    residual = {}
    for basis in ("true", "false"):
        overrides = tiny_overrides(
            "model.cell_stencil=9",
            "model.climatology=[air]",
            "model.withheld_forcings=[cos_julian_day,sin_julian_day]",
            f"model.cell_stencil_basis={basis}",
            "training.rollout.maximum=1",
        )
        components = build_components(compose_config(overrides))
        assert components.model.arguments["cell_stencil_basis"] is (basis == "true")
        targets, outputs = one_step(components)
        residual[basis] = float((targets - outputs).square().mean())
    # the valid time's seasonal-diurnal terms tell each cell's diurnal tendency better than the
    # local times of the input steps alone
    assert residual["true"] < 0.98 * residual["false"]


def test_the_prior_of_the_fit_is_a_config_key(tiny_overrides):
    weights = {}
    for prior in ("mean", "persistence"):
        overrides = tiny_overrides(
            "model.cell_stencil=9",
            f"model.cell_stencil_prior={prior}",
            "training.rollout.maximum=1",
        )
        stencil = build_components(compose_config(overrides)).model.network.cell_stencil
        weights[prior] = stencil.weight.detach().clone()
    # the same ridge shrinks towards different maps: towards no map of the state, or towards
    # the cell's own last state
    assert (weights["mean"] - weights["persistence"]).abs().max() > 1e-3
    assert CHOICES["model.cell_stencil_prior"] == STENCIL_PRIORS  # the config knows wx-models' own
    with pytest.raises(ConfigError, match="model.cell_stencil_prior: 'zero' is not one of mean"):
        compose_config(tiny_overrides("model.cell_stencil=9", "model.cell_stencil_prior=zero"))


def test_a_frozen_stencil_keeps_its_fit_while_the_network_trains(tiny_overrides, tmp_path):
    overrides = ("model.cell_stencil=9", "model.cell_stencil_trainable=false")
    fitted = build_components(compose_config(tiny_overrides(*overrides))).model.state_dict()
    train(compose_config(tiny_overrides(*overrides, run="frozen")))
    trained, _ = load_checkpoint(tmp_path / "frozen/checkpoints/inference-last.safetensors")
    trained = trained.state_dict()
    for name in ("network.cell_stencil.weight", "network.cell_stencil.bias"):
        assert torch.equal(trained[name], fitted[name]), name
    moved = [name for name in fitted if not torch.equal(trained[name], fitted[name])]
    assert "network.output_head.output.weight" in moved
    with pytest.raises(ConfigError, match="model.cell_stencil_trainable: false needs"):
        compose_config(tiny_overrides(*overrides, "model.cell_stencil_fit=false"))
