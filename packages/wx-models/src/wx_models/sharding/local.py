"""Several ranks on one host without a launcher, for tests, benchmarks and examples on CPU.

Production runs are launched by ``torchrun`` or ``srun`` (see ``docs/sharding.md``); this
starts ``world_size`` local processes with ``torch.multiprocessing``, initialises a gloo
process group (or NCCL, one GPU per rank) through a file store and calls
``function(rank, world_size, *args)`` in each. With ``process_group="environment"`` it
instead sets the variables ``torchrun`` sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``) and leaves initialising to ``function``, as entry points such
as ``wx-training train`` and ``wx-inference run`` do.
Processes are forked where the platform allows it (Linux): a forked child shares the already
imported torch and starts in milliseconds, where a spawned one re-imports it (seconds per
process), and a forked child can run functions defined in test modules. Ranks run one
intra-op thread by default, which also keeps a forked child out of its parent's OpenMP pool.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as torch_multiprocessing


def _rank_main(
    rank: int, world_size: int, store: str, threads: int, backend: str, function, args
) -> None:
    torch.set_num_threads(threads)
    if store.startswith("tcp://"):  # torchrun's environment; function initialises
        host, port = store.removeprefix("tcp://").split(":")
        os.environ.update(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world_size),
            MASTER_ADDR=host,
            MASTER_PORT=port,
        )
        function(rank, world_size, *args)
        return
    if backend == "nccl":
        torch.cuda.set_device(rank % torch.cuda.device_count())
    dist.init_process_group(
        backend, init_method=f"file://{store}", rank=rank, world_size=world_size
    )
    try:
        function(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def run_local(
    world_size: int,
    function: Callable[..., None],
    *args,
    threads_per_rank: int = 1,
    backend: str = "gloo",
    process_group: str = "initialise",
) -> None:
    """Run ``function(rank, world_size, *args)`` in ``world_size`` ranks; re-raise failures.

    ``backend`` is ``"gloo"`` (CPU) or ``"nccl"`` (rank ``r`` uses GPU ``r``; CUDA cannot be
    forked once initialised, so the parent must not have touched it). ``process_group`` is
    ``"initialise"`` (a process group exists when ``function`` runs) or ``"environment"``
    (``function`` finds torchrun's variables and initialises the group itself).

    A failure in any rank raises ``torch.multiprocessing.ProcessRaisedException`` carrying that
    rank's traceback.
    """
    if world_size < 1:
        raise ValueError(f"world_size {world_size!r}: expected >= 1")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend {backend!r}: expected 'gloo' or 'nccl'")
    if process_group not in ("initialise", "environment"):
        raise ValueError(f"process_group {process_group!r}: expected 'initialise' or 'environment'")
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with tempfile.TemporaryDirectory(prefix="wx-sharding-") as folder:
        store = str(Path(folder) / "store")
        if process_group == "environment":
            store = f"tcp://127.0.0.1:{free_port()}"
        torch_multiprocessing.start_processes(
            _rank_main,
            args=(world_size, store, threads_per_rank, backend, function, args),
            nprocs=world_size,
            join=True,
            start_method=method,
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a rendezvous or a server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
