"""One seed for Python, numpy and torch; deterministic mode; RNG states to save and restore.

Data-loader workers get seeds derived from the loader's own ``torch.Generator`` (PyTorch gives
worker ``i`` the seed ``base_seed + i``); :func:`seed_worker` passes that seed on to Python's and
numpy's generators in the worker, as the PyTorch reproducibility notes recommend.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's (CPU and every GPU) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool) -> None:
    """Make torch choose deterministic kernels (and fail on ops that have none)."""
    if enabled:
        # cuBLAS needs a fixed workspace for deterministic results (CUDA >= 10.2).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python and numpy in a loader worker from torch's worker seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def loader_generator(seed: int) -> torch.Generator:
    """The generator a data loader draws its worker seeds from."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def capture_rng_state(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """Every RNG state of this process (Python, numpy, torch CPU and GPUs, ``generators``)."""
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "generators": {name: generator.get_state() for name, generator in generators.items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    """Put back what :func:`capture_rng_state` recorded."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {
                "key": numpy_state["key"].numpy().astype(np.uint32),
                "pos": numpy_state["pos"],
            },
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, generator in generators.items():
        if name in state["generators"]:
            generator.set_state(state["generators"][name])
