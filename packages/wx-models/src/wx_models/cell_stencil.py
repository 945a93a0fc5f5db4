"""A linear regression per grid cell on the inputs of its nearest cells, beside the network.

With ``cell_stencil = K`` each grid cell ``c`` gets its own linear map, zero at the start and
added to the network's raw output::

    y[c] = b[c] + sum_k sum_s W[c, k, s] x[n(c, k), s] + sum_i V[c, i] x[c, i]

where ``n(c, 0..K-1)`` are the ``K`` grid cells nearest to ``c`` (itself first; a k-d tree on
unit vectors, so the stencil follows the sphere, not the array), ``s`` runs over the stencil
channels (by default every input; :class:`~wx_models.weather_model.WeatherModel` gives its
prognostic variables at every input step) and ``i`` over the cell's own other inputs (forcings,
climatology). That is a locally connected layer (a convolution whose weights differ per
position) and, trained alone, the local autoregression of Model Output Statistics, which fits
one regression per station (Glahn and Lowry 1972). Beside the shared network it lets each cell
keep the linear part of its own dynamics (its advection stencil, its diurnal range), and the
network learns what is left.

:meth:`CellStencil.fit` sets the weights to the ridge regression (Hoerl and Kennard 1970) of
given targets on the features, cell by cell, from normal equations accumulated over batches
(:class:`NormalEquations`); the penalty is ``ridge`` times each feature's variance, so it does not
depend on the features' units. :meth:`wx_models.WeatherModel.fit_cell_stencil` fits it to the
network's raw targets and zeroes the shared output layer: the model starts as the regression.

A ridge penalty shrinks the fitted map towards its prior, and for a residual output that choice
matters: regressing the tendency shrinks each cell's forecast towards persistence, regressing the
next state shrinks it towards the cell's mean (the intercept is not penalised). The same ridge
gives the same 6 h error either way on the NCEP benchmark, but iterated to 120 h the state
regression scored 3.63 K and the tendency regression 3.77 K (docs/benchmarks.md), so
``prior="mean"`` is the default: the state is regressed, then the cell's own last input (a
feature of its stencil) is subtracted exactly from the map.

A shard of a sharded model (:mod:`wx_models.sharding`) holds only its own cells' inputs, so a
stencil wider than the cell itself (``K > 1``) cannot be sharded; ``K = 1`` can.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from wx_graphs.sphere import lat_lon_to_xyz


class CellStencilError(ValueError):
    """A bad ``cell_stencil`` or stencil channel list."""


def nearest_cells(positions: torch.Tensor, count: int) -> np.ndarray:
    """``[cell, count]`` ids of each cell's ``count`` nearest cells (itself first) from
    ``positions`` ``[cell, 2]`` (latitude, longitude in radians), by chord distance."""
    degrees = torch.rad2deg(positions.double().cpu()).numpy()  # [cell, 2]
    xyz = lat_lon_to_xyz(degrees[:, 0], degrees[:, 1])  # [cell, 3]
    _, index = cKDTree(xyz).query(xyz, k=count)
    index = np.asarray(index, dtype=np.int64).reshape(len(xyz), count)  # [cell, count]
    # duplicate positions could put another cell first: the cell itself leads its stencil
    own = np.arange(len(xyz))
    if not np.array_equal(index[:, 0], own):
        rest = [row[row != cell][: count - 1] for cell, row in zip(own, index, strict=True)]
        index = np.concatenate([own[:, None], np.stack(rest)], axis=1)
    return index


def check_stencil_size(size: object, num_cells: int) -> int:
    """``size`` as the number of stencil cells, 0 for none; CellStencilError otherwise."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= num_cells:
        raise CellStencilError(
            f"cell_stencil {size!r}: expected an integer from 0 (none) to the {num_cells} "
            "grid cells"
        )
    return size


STENCIL_RIDGE = 0.01  # times each feature's variance
STENCIL_PRIORS = ("mean", "persistence")  # what the ridge shrinks a residual output towards


class NormalEquations:
    """Per-cell sums for a ridge regression with an intercept, accumulated batch by batch."""

    def __init__(self) -> None:
        self.count = 0
        self.gram: torch.Tensor | None = None  # [cell, feature + 1, feature + 1]
        self.moment: torch.Tensor | None = None  # [cell, feature + 1, output]

    def add(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        """Add ``features`` ``[sample, cell, feature]`` and ``targets`` ``[sample, cell, output]``."""
        ones = features.new_ones(*features.shape[:2], 1)
        design = torch.cat([features, ones], dim=-1).double()  # [sample, cell, feature + 1]
        gram = torch.einsum("scf,scg->cfg", design, design)
        moment = torch.einsum("scf,sco->cfo", design, targets.double())
        self.gram = gram if self.gram is None else self.gram + gram
        self.moment = moment if self.moment is None else self.moment + moment
        self.count += features.shape[0]

    def solve(self, ridge: float = STENCIL_RIDGE) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights ``[cell, feature, output]`` and intercepts ``[cell, output]``; the intercept is
        not penalised."""
        if self.gram is None or self.count < 2:
            raise CellStencilError("cell_stencil fit: expected at least 2 samples")
        mean = self.gram[:, -1, :-1] / self.count  # [cell, feature]
        target_mean = self.moment[:, -1] / self.count  # [cell, output]
        covariance = self.gram[:, :-1, :-1] / self.count - mean[:, :, None] * mean[:, None, :]
        cross = self.moment[:, :-1] / self.count - mean[:, :, None] * target_mean[:, None, :]
        variance = covariance.diagonal(dim1=1, dim2=2).clamp_min(0)  # [cell, feature]
        # constant features get a unit penalty: their centred column is zero, their weight too
        penalty = torch.where(variance > 1e-12, ridge * variance, torch.ones_like(variance))
        weight = torch.linalg.solve(covariance + torch.diag_embed(penalty), cross)
        bias = target_mean - torch.einsum("cf,cfo->co", mean, weight)
        return weight, bias


class CellStencil(nn.Module):
    """Each cell's own linear map from its stencil's inputs ``[batch, cell, input]`` to
    ``[batch, cell, output]``; weights ``[cell, feature, output]`` and bias ``[cell, output]``
    start at zero."""

    def __init__(
        self,
        *,
        positions: torch.Tensor,
        size: int,
        input_size: int,
        output_size: int,
        stencil_channels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        num_cells = int(positions.shape[0])
        self.size = check_stencil_size(size, num_cells)
        channels = list(range(input_size)) if stencil_channels is None else list(stencil_channels)
        if not channels or any(
            isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < input_size
            for c in channels
        ):
            raise CellStencilError(
                f"stencil_channels {stencil_channels!r}: expected input columns from 0 to "
                f"{input_size - 1}"
            )
        own = [c for c in range(input_size) if c not in set(channels)]
        self.num_features = size * len(channels) + len(own)
        self.register_buffer("channels", torch.tensor(channels), persistent=False)
        self.register_buffer("own_channels", torch.tensor(own, dtype=torch.long), persistent=False)
        neighbours = torch.from_numpy(nearest_cells(positions, size))
        self.register_buffer("neighbours", neighbours, persistent=False)  # [cell, size]
        self.weight = nn.Parameter(torch.zeros(num_cells, self.num_features, output_size))
        self.bias = nn.Parameter(torch.zeros(num_cells, output_size))  # [cell, output]

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[batch, cell, feature]``: the stencil channels of each cell's stencil, then its own
        other inputs."""
        stencil = inputs.index_select(-1, self.channels)  # [batch, cell, channel]
        if self.size > 1:
            if inputs.shape[1] != self.neighbours.shape[0]:
                raise CellStencilError(
                    f"cell_stencil {self.size} reads neighbouring cells' inputs: expected all "
                    f"{self.neighbours.shape[0]} cells, got {inputs.shape[1]} (a shard?)"
                )
            stencil = stencil[:, self.neighbours]  # [batch, cell, size, channel]
            stencil = stencil.flatten(2)  # [batch, cell, size * channel]
        own = inputs.index_select(-1, self.own_channels)  # [batch, cell, own]
        return torch.cat([stencil, own], dim=-1)  # [batch, cell, feature]

    def own_feature(self, column: int) -> int:
        """The feature index of a cell's own value of input ``column``."""
        channels = self.channels.tolist()
        if column in channels:
            return channels.index(column)  # the cell itself leads its stencil
        return self.size * len(channels) + self.own_channels.tolist().index(column)

    @torch.no_grad()
    def fit(self, equations: NormalEquations, *, ridge: float = STENCIL_RIDGE) -> None:
        """Set the weights and biases to the ridge regression of ``equations``."""
        weight, bias = equations.solve(ridge)
        if weight.shape != self.weight.shape:
            raise CellStencilError(
                f"cell_stencil fit: weights {tuple(weight.shape)}, expected "
                f"{tuple(self.weight.shape)}"
            )
        self.weight.copy_(weight.to(self.weight.dtype))
        self.bias.copy_(bias.to(self.bias.dtype))

    def forward(self, inputs: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """``[batch, cell, output]`` for the rows ``cells`` (global ids: a shard's owned cells,
        or all of them) of ``inputs`` ``[batch, cell, input]``."""
        features = self.features(inputs)
        weight = self.weight.index_select(0, cells).to(features.dtype)  # [cell, feature, output]
        bias = self.bias.index_select(0, cells).to(features.dtype)  # [cell, output]
        return torch.einsum("bcf,cfo->bco", features, weight) + bias
