"""Training one model over a model group of ranks (``hardware.gpus_per_model > 1``).

The world is cut into ``num_groups`` model groups of ``gpus_per_model`` consecutive ranks
(:class:`wx_models.sharding.ModelGroups`). Within a group, every rank holds the whole weights
but only its spatial part of the grid and mesh (:func:`wx_models.sharding.shard_model`), reads
only its grid cells (a cell :class:`~wx_datasets.view.Subset` of the dataset), and computes the
loss over its cells with the *whole-grid* node weights, so that the per-rank losses, and their
gradients, add up over the group to the unsharded ones. Across groups the run is data-parallel:
the batch sampler deals one sample to a whole group, and
:func:`wx_models.sharding.reduce_gradients` sums gradients within each group and averages them
across groups (no ``DistributedDataParallel`` around a sharded model). Checkpoints are written
with the whole-grid cell count (:meth:`~wx_models.sharding.ShardedModel.whole_grid`), so they load
unsharded and resume at any group size.

With ``gpus_per_model == 1`` the same object describes plain data parallelism (each rank is its
own group of one), so the trainer has one code path for batching and loss reduction.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from wx_datasets.view import Subset
from wx_models.graph import GRID
from wx_models.sharding import ModelGroups, ShardedModel, plan_model, reduce_gradients, shard_model
from wx_training.data import WindowDataset
from wx_training.distributed import DistributedContext
from wx_training.losses import WeightedMSE

LOG = logging.getLogger(__name__)


@dataclass
class ModelSharding:
    """Where this rank sits (model group, position in it) and, when sharded, its grid part."""

    groups: ModelGroups
    sharded: ShardedModel | None  # None: the whole model on every rank

    @classmethod
    def create(
        cls, model: torch.nn.Module, context: DistributedContext, *, gpus_per_model: int
    ) -> ModelSharding:
        """Shard ``model`` in place over groups of ``gpus_per_model`` ranks (before ``.to``)."""
        if gpus_per_model == 1:
            groups = ModelGroups(
                group_size=1,
                num_groups=context.world_size,
                rank=context.rank,
                group_index=context.rank,
                rank_in_group=0,
            )
            return cls(groups=groups, sharded=None)
        if not context.enabled:
            raise ValueError(
                f"config key hardware.gpus_per_model: {gpus_per_model} needs that many processes "
                f"per model; launch with torchrun --nproc-per-node {gpus_per_model} (or srun)"
            )
        if context.world_size % gpus_per_model:
            raise ValueError(
                f"config key hardware.gpus_per_model: {gpus_per_model} does not divide the "
                f"{context.world_size} processes of this run"
            )
        groups = ModelGroups.from_world(gpus_per_model)
        plan = plan_model(model, gpus_per_model)
        sharded = shard_model(model, plan, groups)
        if context.is_main:
            LOG.info(
                "model sharded over groups of %d ranks (%d groups): %s",
                gpus_per_model,
                groups.num_groups,
                plan.summary(),
            )
        return cls(groups=groups, sharded=sharded)

    @property
    def enabled(self) -> bool:
        return self.sharded is not None

    @property
    def cells(self) -> np.ndarray | None:
        """This rank's grid cells (ascending), or None for the whole grid."""
        return None if self.sharded is None else self.sharded.grid_cells

    @property
    def counts_samples(self) -> bool:
        """Whether this rank counts its batch in sample totals (one rank per group does)."""
        return self.groups.rank_in_group == 0

    def whole_grid(self) -> contextlib.AbstractContextManager:
        """Context in which the model describes the whole grid (for checkpoints, signatures)."""
        return contextlib.nullcontext() if self.sharded is None else self.sharded.whole_grid()

    def local_cells(self, values: np.ndarray | None) -> np.ndarray | None:
        """``values[cells]`` of a per-cell array (``[cell, ...]``), or it unchanged."""
        return values if values is None or self.sharded is None else values[self.cells]

    def dataset(self, dataset: WindowDataset) -> WindowDataset:
        """The same windows, reading only this rank's cells from the store."""
        if self.sharded is None:
            return dataset
        return WindowDataset(
            view=Subset(dataset.view, cell_index=self.cells, grid_shape=None),
            layout=dataset.layout,
            member=dataset.member,
            window=dataset.window,
            starts=dataset.starts,
        )

    def loss(self, loss: WeightedMSE) -> WeightedMSE:
        """The loss over this rank's cells with whole-grid weights: the group sum is the loss."""
        if self.sharded is None:
            return loss
        local = copy.deepcopy(loss)
        cells = torch.as_tensor(self.cells, device=loss.node_weight.device)
        local.node_weight = loss.node_weight[cells]  # [owned cell], not renormalised
        return local

    def reduce_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Sum gradients over the group and average them over groups (sharded runs only)."""
        if self.sharded is not None:
            reduce_gradients(parameters, self.groups)

    def summary(self) -> dict[str, object]:
        """What the run log and the summary record about the layout of the processes."""
        described = {
            "gpus_per_model": self.groups.group_size,
            "model_groups": self.groups.num_groups,
        }
        if self.sharded is not None:
            described["cells_per_rank"] = [
                len(rank.owned[GRID]) for rank in self.sharded.plan.ranks
            ]
        return described
