"""Area-, variable- and level-weighted mean squared error in normalised space.

For a prediction ``y`` and truth ``t`` in physical units, with ``s_v`` the normalisation scale of
output variable ``v`` (its standard deviation for mean-std normalisation), node weights ``a_c``
(area, times the interior mask of a regional graph, summing to 1) and variable weights ``w_v``
(config weight times pressure-level weight, summing to 1)::

    loss = mean over batch of  sum_c sum_v  a_c w_v ((y - t) / s_v)²

as in GraphCast (Lam et al. 2023, eq. 19: latitude-area weights per grid cell and per-variable,
per-level weights). The pressure-level weight follows Anemoi's linear scaling
``max(minimum, level / 1000 hPa)``, which favours the lower troposphere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import torch

_LEVEL = re.compile(r"^(?P<param>.+)_(?P<level>\d+)$")


class LossConfigError(ValueError):
    """Loss settings that do not fit the model's variables or the graph."""


def pressure_level(name: str, metadata: Mapping[str, object] | None = None) -> float | None:
    """The pressure level (hPa) of a ``<param>_<level>`` variable, or None for single levels."""
    metadata = metadata or {}
    if metadata.get("levtype") not in (None, "pl"):
        return None
    match = _LEVEL.match(name)
    return float(match.group("level")) if match else None


def variable_weights(
    variables: Sequence[str],
    *,
    weights: Mapping[str, float],
    scaling: str,
    minimum: float,
    metadata: Mapping[str, Mapping[str, object]],
) -> np.ndarray:
    """Weights ``[variable]`` summing to 1: config weight (default 1) times level weight."""
    unknown = sorted(set(weights) - set(variables))
    if unknown:
        raise LossConfigError(
            f"config key training.loss.variable_weights: {unknown} are not output variables "
            f"of the model ({', '.join(variables)})"
        )
    result = np.ones(len(variables))
    for index, name in enumerate(variables):
        result[index] = float(weights.get(name, 1.0))
        level = pressure_level(name, metadata.get(name))
        if level is not None and scaling == "linear":
            result[index] *= max(minimum, level / 1000.0)
    if result.sum() <= 0:
        raise LossConfigError("config key training.loss.variable_weights: all weights are zero")
    return result / result.sum()


def node_weights(
    *,
    source: str,
    latitudes: np.ndarray,
    dataset_area_weight: np.ndarray | None,
    graph_area_weight: np.ndarray | None,
    interior_mask: np.ndarray | None,
) -> np.ndarray:
    """Weights ``[cell]`` summing to 1: area weights from ``source``, zero outside the interior.

    ``auto`` takes the dataset's ``area_weight``, else the graph's data-node ``area_weight``,
    else ``cos(latitude)``.
    """
    if source == "auto":
        source = (
            "dataset"
            if dataset_area_weight is not None
            else "graph"
            if graph_area_weight is not None
            else "cosine"
        )
    if source == "dataset":
        if dataset_area_weight is None:
            raise LossConfigError(
                "config key training.loss.area_weight: 'dataset', but the dataset has no area_weight"
            )
        area = np.asarray(dataset_area_weight, dtype=np.float64)
    elif source == "graph":
        if graph_area_weight is None:
            raise LossConfigError(
                "config key training.loss.area_weight: 'graph', but the graph's data nodes have no area_weight"
            )
        area = np.asarray(graph_area_weight, dtype=np.float64)
    elif source == "cosine":
        area = np.cos(np.deg2rad(np.asarray(latitudes, dtype=np.float64)))
    else:
        area = np.ones(len(latitudes))
    area = np.clip(area, 0.0, None)
    if interior_mask is not None:
        area = area * np.asarray(interior_mask, dtype=bool)
    if area.sum() <= 0:
        raise LossConfigError(
            "loss node weights are all zero (empty interior or zero area weights)"
        )
    return area / area.sum()


class WeightedMSE(torch.nn.Module):
    """The loss of one step; weights are buffers so they follow the model's device."""

    def __init__(
        self, *, node_weight: np.ndarray, variable_weight: np.ndarray, scale: np.ndarray
    ) -> None:
        super().__init__()
        self.register_buffer(
            "node_weight", torch.as_tensor(node_weight, dtype=torch.float32)
        )  # [cell]
        self.register_buffer(
            "variable_weight", torch.as_tensor(variable_weight, dtype=torch.float32)
        )  # [variable]
        safe = np.where(np.asarray(scale) > 0, scale, 1.0)
        self.register_buffer(
            "inverse_scale", torch.as_tensor(1.0 / safe, dtype=torch.float32)
        )  # [variable]

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``prediction``, ``target``: ``[batch, cell, variable]`` in physical units."""
        error = (
            prediction.float() - target.float()
        ) * self.inverse_scale  # [batch, cell, variable]
        weighted = error.square() * self.variable_weight  # [batch, cell, variable]
        per_sample = (weighted.sum(dim=-1) * self.node_weight).sum(dim=-1)  # [batch]
        return per_sample.mean()
