"""Data-parallel training with ``torch.distributed``: started by ``torchrun`` (or SLURM's srun).

Process rank, world size and the rendezvous address come from the environment variables that
``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``);
without them the run is a single process and nothing is initialised. NCCL is used on GPUs, gloo
on CPUs. The model is wrapped in DistributedDataParallel, which averages gradients across ranks
(Li et al. 2020, "PyTorch Distributed: experiences on accelerating data parallel training").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None  # None: a single process, no process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.backend is not None


def choose_device(accelerator: str, local_rank: int) -> torch.device:
    if accelerator == "cuda" or (accelerator == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError(
                "config key hardware.accelerator: 'cuda' asked for but no GPU is visible"
            )
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def setup_distributed(*, accelerator: str, backend: str = "auto") -> DistributedContext:
    """Join the process group described by the environment, or run as one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(accelerator, local_rank)
    if world_size == 1:
        return DistributedContext(rank=0, world_size=1, local_rank=0, device=device, backend=None)
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=dt.timedelta(minutes=30))
    LOG.info(
        "rank %d of %d (local %d) on %s with %s", rank, world_size, local_rank, device, backend
    )
    return DistributedContext(
        rank=rank, world_size=world_size, local_rank=local_rank, device=device, backend=backend
    )


def teardown_distributed(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Sum of ``values`` over all ranks (the tensor itself on one process)."""
    if not context.enabled:
        return values
    reduced = values.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced


def all_reduce_mean(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    return all_reduce_sum(values, context) / context.world_size


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()


def gather_json(value: Any, context: DistributedContext) -> list[Any]:
    """``value`` (JSON-serialisable) from every rank, in rank order, on every rank.

    Sent as UTF-8 bytes in a padded uint8 tensor rather than with ``all_gather_object``, which
    would pickle.
    """
    payload = torch.tensor(list(json.dumps(value).encode("utf-8")), dtype=torch.uint8)
    if not context.enabled:
        return [value]
    device = context.device if context.backend == "nccl" else torch.device("cpu")
    length = torch.tensor([payload.numel()], device=device)
    lengths = [torch.zeros_like(length) for _ in range(context.world_size)]
    dist.all_gather(lengths, length)
    size = int(max(item.item() for item in lengths))
    padded = torch.zeros(size, dtype=torch.uint8, device=device)
    padded[: payload.numel()] = payload.to(device)
    gathered = [torch.zeros_like(padded) for _ in range(context.world_size)]
    dist.all_gather(gathered, padded)
    return [
        json.loads(bytes(item[: int(count.item())].cpu().tolist()).decode("utf-8"))
        for item, count in zip(gathered, lengths, strict=True)
    ]


def broadcast_json(value: Any, context: DistributedContext) -> Any:
    """Rank 0's ``value`` on every rank."""
    return gather_json(value, context)[0]
