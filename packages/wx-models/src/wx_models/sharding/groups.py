"""Model groups: the world split into model instances of ``group_size`` ranks each.

``world size = number of groups x group size``. Ranks ``g * group_size ... (g + 1) * group_size
- 1`` form model group ``g`` (consecutive ranks, so with ``group_size`` at most the GPUs per node
a group stays inside a node); ranks at the same position in every group form a data-parallel
group. Within a model group each rank holds the same (replicated) weights and computes partial
gradients from the receivers it owns: their sum over the group is the model's gradient. Across
groups, gradients are averaged as in data parallelism. Both reductions are done at once by one
all-reduce (sum) over the world followed by a division by the number of groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist


class GroupSizeError(ValueError):
    """A group size that does not divide the world, or one given without torch.distributed."""


@dataclass(frozen=True)
class ModelGroups:
    """Where this rank sits: which model instance (group) and which partition within it."""

    group_size: int
    num_groups: int
    rank: int  # world rank
    group_index: int  # model instance: the data-parallel rank
    rank_in_group: int  # partition owned by this rank
    model_group: object = None  # ProcessGroup of this rank's model group (None: one rank)
    data_parallel_group: object = None  # ProcessGroup of ranks at the same position

    @property
    def world_size(self) -> int:
        return self.group_size * self.num_groups

    @classmethod
    def single(cls) -> ModelGroups:
        """One process, no torch.distributed: one group of one rank."""
        return cls(group_size=1, num_groups=1, rank=0, group_index=0, rank_in_group=0)

    @classmethod
    def from_world(cls, group_size: int) -> ModelGroups:
        """Split the initialised world into groups of ``group_size`` consecutive ranks.

        Every rank must call this (it creates process groups collectively). Without an
        initialised process group only ``group_size=1`` is possible.
        """
        if not isinstance(group_size, int) or group_size < 1:
            raise GroupSizeError(f"group size (gpus_per_model) {group_size!r}: expected >= 1")
        if not (dist.is_available() and dist.is_initialized()):
            if group_size == 1:
                return cls.single()
            raise GroupSizeError(
                f"group size (gpus_per_model) {group_size} needs torch.distributed: launch with "
                f"torchrun --nproc-per-node {group_size} (or srun) so the process group exists"
            )
        world, rank = dist.get_world_size(), dist.get_rank()
        if world % group_size:
            raise GroupSizeError(
                f"world size {world} is not a multiple of the group size (gpus_per_model) "
                f"{group_size}"
            )
        num_groups = world // group_size
        model_group = data_parallel_group = None
        # new_group is collective: every rank creates every group, in the same order
        for g in range(num_groups):
            ranks = list(range(g * group_size, (g + 1) * group_size))
            created = dist.new_group(ranks) if group_size > 1 else None
            if rank in ranks:
                model_group = created
        for position in range(group_size):
            ranks = list(range(position, world, group_size))
            created = dist.new_group(ranks) if num_groups > 1 else None
            if rank in ranks:
                data_parallel_group = created
        return cls(
            group_size=group_size,
            num_groups=num_groups,
            rank=rank,
            group_index=rank // group_size,
            rank_in_group=rank % group_size,
            model_group=model_group,
            data_parallel_group=data_parallel_group,
        )

    def sampler_arguments(self) -> dict[str, int]:
        """``num_replicas`` and ``rank`` for ``DistributedSampler``: one sample per model group."""
        return {"num_replicas": self.num_groups, "rank": self.group_index}

    def model_group_sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over the model group (no gradient): normalisers, reported loss."""
        total = value.detach().clone()
        if self.group_size > 1:
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=self.model_group)
        return total


def reduce_gradients(parameters: Iterable[torch.nn.Parameter], groups: ModelGroups) -> None:
    """Sum partial gradients within each model group and average them across groups, in place.

    A parameter without a gradient on this rank counts as zero, so every rank contributes a
    buffer of the same size. Gradients are flattened into one buffer per dtype and reduced with
    one all-reduce over the world.
    """
    if groups.world_size == 1:
        return
    parameters = [p for p in parameters if p.requires_grad]
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    for dtype in sorted({p.grad.dtype for p in parameters}, key=str):
        same = [p for p in parameters if p.grad.dtype == dtype]
        flat = torch.cat([p.grad.reshape(-1) for p in same])  # [parameter element]
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        if groups.num_groups > 1:
            flat /= groups.num_groups
        offset = 0
        for p in same:
            p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
            offset += p.numel()
