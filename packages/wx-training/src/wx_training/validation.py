"""Validation scores: area-weighted RMSE per variable and lead time, model and persistence.

``RMSE(v, τ) = sqrt( Σ_samples Σ_c a_c (ŷ - y)² / N )`` in physical units, with ``a_c`` the
node weights summing to 1 (area weights, zero on a regional model's boundary) and ``N`` the
number of samples, as in WeatherBench 2 (Rasp et al. 2024, eq. 1; the mean over init times of
the area-weighted MSE, then the square root). Persistence forecasts the last input state at
every lead. Sums are reduced over ranks before the square root, so the scores are those of the
whole validation set whatever the number of processes.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import torch

from wx_training.distributed import DistributedContext, all_reduce_sum
from wx_training.losses import WeightedMSE
from wx_training.rollout import Rollout


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    loader: Any,
    *,
    rollout: Rollout,
    loss: WeightedMSE,
    steps: int,
    context: DistributedContext,
    autocast: contextlib.AbstractContextManager | None = None,
    max_batches: int | None = None,
    counts_samples: bool = True,
) -> dict[str, Any]:
    """Scores over the validation loader; identical on every rank.

    On a sharded model each rank sums over its own cells; ``counts_samples`` is true on one
    rank per model group, so that samples are counted once per group.
    """
    was_training = model.training
    model.eval()
    outputs = len(rollout.output_columns)
    model_sums = torch.zeros(
        steps, outputs, dtype=torch.float64, device=context.device
    )  # [lead, variable]
    persistence_sums = torch.zeros_like(model_sums)
    totals = torch.zeros(2, dtype=torch.float64, device=context.device)  # samples, loss sum
    weight = loss.node_weight.double()  # [cell]
    for batch_index, batch in enumerate(loader):
        if max_batches is not None and batch_index >= max_batches:
            break
        fields = batch["fields"].to(
            context.device, non_blocking=True
        )  # [batch, time, cell, variable]
        persistence = rollout.persistence(fields).double()
        with autocast or contextlib.nullcontext():
            for step, prediction, target in rollout.run(model, fields, steps):
                squared = (
                    prediction.double() - target.double()
                ).square()  # [batch, cell, variable]
                model_sums[step] += torch.einsum("bcv,c->v", squared, weight)
                persisted = (persistence - target.double()).square()
                persistence_sums[step] += torch.einsum("bcv,c->v", persisted, weight)
                totals[1] += loss(prediction, target).double() * fields.shape[0] / steps
        if counts_samples:
            totals[0] += fields.shape[0]
    model_sums = all_reduce_sum(model_sums, context)
    persistence_sums = all_reduce_sum(persistence_sums, context)
    totals = all_reduce_sum(totals, context)
    model.train(was_training)
    samples = max(float(totals[0].item()), 1.0)
    return {
        "samples": int(totals[0].item()),
        "loss": float(totals[1].item()) / samples,
        "model_mse": (model_sums / samples).cpu().numpy(),  # [lead, variable]
        "persistence_mse": (persistence_sums / samples).cpu().numpy(),
    }


def score_table(
    result: dict[str, Any], *, variables: list[str], hours_per_step: float, units: dict[str, str]
) -> dict[str, Any]:
    """RMSE tables ``{variable: [lead]}`` for the model and persistence, plus lead times."""
    steps = result["model_mse"].shape[0]
    return {
        "samples": result["samples"],
        "loss": result["loss"],
        "lead_hours": [hours_per_step * (step + 1) for step in range(steps)],
        "rmse": {
            name: np.sqrt(result["model_mse"][:, index]).tolist()
            for index, name in enumerate(variables)
        },
        "persistence": {
            name: np.sqrt(result["persistence_mse"][:, index]).tolist()
            for index, name in enumerate(variables)
        },
        "units": units,
    }


def score_metrics(scores: dict[str, Any]) -> dict[str, float]:
    """Flat metric names for tracking: ``val/rmse/<variable>/<lead>h``, ``val/loss``, ..."""
    metrics = {"val/loss": scores["loss"]}
    for kind in ("rmse", "persistence"):
        for name, values in scores[kind].items():
            for hours, value in zip(scores["lead_hours"], values, strict=True):
                metrics[f"val/{kind}/{name}/{_hours(hours)}h"] = value
    return {key: value for key, value in metrics.items() if math.isfinite(value)}


def _hours(hours: float) -> str:
    return str(int(hours)) if float(hours).is_integer() else f"{hours:g}"
