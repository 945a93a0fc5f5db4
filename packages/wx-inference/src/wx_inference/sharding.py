"""Sharded inference: one forecaster spread over every process ``torchrun`` starts.

``torchrun --standalone --nproc-per-node G --no-python wx-inference run forecast.yaml`` starts
``G`` processes; they form one model group (:class:`wx_models.sharding.ModelGroups`) and the
checkpoint's model is sharded over them (:func:`wx_models.sharding.shard_model`): each rank
holds the whole weights but runs the encoder, processor and decoder only on its spatial part of
the grid and mesh, receiving the halo of sender features it needs from the other ranks, so the
activation memory per GPU falls about as ``1/G``. The forecast state (a few fields per cell)
stays whole on every rank: :class:`GatheredModel` hands the model this rank's cells and gathers
the whole grid back after each step, so checks, forcings, boundary values and the rollout are
those of one process. World rank 0 alone writes the output; no scheduler is involved. The
process group comes from the environment ``torchrun`` (or ``srun``) sets: ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from wx_models.sharding import ModelGroups, ShardedModel, plan_model, shard_model

LOG = logging.getLogger(__name__)


class GatheredModel(nn.Module):
    """A sharded model that takes and returns the whole grid: ``[member, ..., cell, variable]``."""

    def __init__(self, *, model: nn.Module, sharded: ShardedModel) -> None:
        super().__init__()
        self.model = model
        self.sharded = sharded
        self.register_buffer("cells", torch.as_tensor(sharded.grid_cells), persistent=False)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """``history [member, input_steps, cell, input]`` -> ``[member, cell, output]``."""
        local = history.index_select(2, self.cells)  # [member, input_steps, owned cell, input]
        return self.sharded.gather_grid(self.model(local))  # [member, cell, output]

    def advance_history(self, *args, **kwargs) -> torch.Tensor:
        return self.model.advance_history(*args, **kwargs)


@dataclass(frozen=True)
class InferenceGroup:
    """The processes of a sharded forecast: this one's rank and the model group."""

    rank: int
    local_rank: int
    world_size: int
    groups: ModelGroups

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: str) -> InferenceGroup | None:
        """Join the process group ``torchrun`` describes; None for a single process."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return None
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        on_gpu = torch.device(device).type == "cuda"
        if on_gpu:
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        if not dist.is_initialized():
            dist.init_process_group(
                backend="nccl" if on_gpu else "gloo", timeout=dt.timedelta(minutes=30)
            )
        groups = ModelGroups.from_world(world_size)
        LOG.info("rank %d of %d: sharded forecast", groups.rank, world_size)
        return cls(rank=groups.rank, local_rank=local_rank, world_size=world_size, groups=groups)

    def device(self, device: str) -> str:
        """This rank's GPU for ``cuda`` (``cuda:<local rank>``); other devices unchanged."""
        if device == "cuda":
            return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        return device

    def wrap(self, model: nn.Module) -> GatheredModel:
        """Shard ``model`` (unsharded, still on the host) over the group; gather its outputs."""
        sharded = shard_model(model, plan_model(model, self.world_size), self.groups)
        if self.is_main:
            LOG.info("model sharded over %d ranks: %s", self.world_size, sharded.plan.summary())
        return GatheredModel(model=model, sharded=sharded)

    def barrier(self) -> None:
        dist.barrier()

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
