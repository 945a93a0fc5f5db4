"""Training samples from a wx dataset view: windows of ``input_steps + rollout`` consecutive dates.

A sample is one array ``[time, cell, variable]`` holding, for each date of the window, the
dataset variables the model uses (prognostic, forcing, diagnostic, constant) followed by the
forcings computed on the fly with :func:`wx_datasets.forcings.compute_forcings`, the function
inference uses too. Windows never straddle a gap in the dataset's dates and lie wholly inside
the period (train or validation) they belong to.

Batches come from :class:`WindowBatchSampler`: a permutation of the windows drawn from
``seed + epoch`` (so every rank and every restart sees the same order), cut into global batches
of ``batch_size x world_size`` windows of which each rank takes its own contiguous block, and
which can start part-way through an epoch, which is how a resumed run continues exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from wx_datasets.forcings import compute_forcings
from wx_training.seeding import seed_worker
from wx_utils.dates import parse_datetime

LOG = logging.getLogger(__name__)

ROLES = ("prognostic", "forcing", "diagnostic", "constant")


class DataConfigError(ValueError):
    """A data setting that does not fit the dataset (unknown variable, empty period, ...)."""


@dataclass(frozen=True)
class VariableLayout:
    """Variables by role; :attr:`sample_variables` is the column order of a sample."""

    prognostic: tuple[str, ...]
    forcing: tuple[str, ...]  # read from the dataset
    diagnostic: tuple[str, ...]
    constant: tuple[str, ...]
    computed_forcings: tuple[str, ...]  # computed from dates and coordinates

    @property
    def dataset_variables(self) -> tuple[str, ...]:
        return self.prognostic + self.forcing + self.diagnostic + self.constant

    @property
    def sample_variables(self) -> tuple[str, ...]:
        return self.dataset_variables + self.computed_forcings

    @property
    def roles(self) -> dict[str, str]:
        """Variable name -> role, computed forcings counted as forcings."""
        roles = {name: role for role in ROLES for name in getattr(self, role)}
        roles.update(dict.fromkeys(self.computed_forcings, "forcing"))
        return roles


def resolve_layout(view: Any, data_config: Any, *, dataset: str) -> VariableLayout:
    """Roles from the config, or from the dataset's metadata ``kind`` where the config says null."""
    metadata = view.variables_metadata
    chosen: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        names = getattr(data_config, role)
        if names is None:
            names = [name for name in view.variables if metadata.get(name, {}).get("kind") == role]
        missing = [name for name in names if name not in view.name_to_index]
        if missing:
            raise DataConfigError(
                f"config key data.{role}: variable(s) {missing} not in dataset {dataset} "
                f"(it has {', '.join(view.variables)})"
            )
        chosen[role] = tuple(names)
    seen: dict[str, str] = {}
    for role, names in chosen.items():
        for name in names:
            if name in seen:
                raise DataConfigError(
                    f"config key data.{role}: {name!r} is also listed under data.{seen[name]}"
                )
            seen[name] = role
    if not chosen["prognostic"]:
        raise DataConfigError(
            f"config key data.prognostic: no prognostic variables (the dataset {dataset} marks "
            "none as kind 'prognostic'; list them in data.prognostic)"
        )
    computed = tuple(data_config.computed_forcings)
    clash = [name for name in computed if name in seen]
    if clash:
        raise DataConfigError(
            f"config key data.computed_forcings: {clash} are also dataset variables"
        )
    return VariableLayout(computed_forcings=computed, **chosen)


def period_indices(
    dates: np.ndarray, start: str | None, end: str | None, *, key: str
) -> tuple[int, int]:
    """Index range ``[first, stop)`` of the dates inside an inclusive period."""
    first = 0 if start is None else int(np.searchsorted(dates, parse_datetime(start), side="left"))
    stop = (
        len(dates)
        if end is None
        else int(np.searchsorted(dates, parse_datetime(end), side="right"))
    )
    if stop <= first:
        raise DataConfigError(
            f"config key {key}: period {start or 'first date'} to {end or 'last date'} holds no "
            "dates of the dataset "
            f"({dates[0]} to {dates[-1]})"
        )
    return first, stop


def window_starts(
    dates: np.ndarray,
    first: int,
    stop: int,
    *,
    length: int,
    step: np.timedelta64,
    missing: np.ndarray | None = None,
) -> np.ndarray:
    """Start indices of windows of ``length`` consecutive dates inside ``[first, stop)``.

    Windows across a gap in the dates, or holding a date the store marks missing, are left out.
    """
    starts = np.arange(first, stop - length + 1)
    if starts.size == 0:
        return starts
    span = dates[starts + length - 1] - dates[starts]
    keep = span == step * (length - 1)
    if missing is not None and np.any(missing):
        missing_before = np.concatenate([[0], np.cumsum(missing)])  # [time + 1]
        keep &= missing_before[starts + length] == missing_before[starts]
    return starts[keep]


class WindowDataset(Dataset):
    """Sample ``k``: the window starting at ``starts[k]``, ``[time, cell, sample_variable]``."""

    def __init__(
        self,
        *,
        view: Any,
        layout: VariableLayout,
        member: int,
        window: int,
        starts: np.ndarray,
    ) -> None:
        self.view = view
        self.layout = layout
        self.member = member
        self.window = window
        self.starts = np.asarray(starts, dtype=np.int64)  # [sample]
        self.columns = np.array([view.name_to_index[name] for name in layout.dataset_variables])
        self.latitudes = np.asarray(view.latitudes, dtype=np.float64)
        self.longitudes = np.asarray(view.longitudes, dtype=np.float64)
        self.dates = np.asarray(view.dates).astype("datetime64[s]")

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = int(self.starts[index])
        block = np.asarray(
            self.view[start : start + self.window]
        )  # [time, variable, ensemble, cell]
        fields = block[:, self.columns, self.member, :]  # [time, variable, cell]
        if self.layout.computed_forcings:
            dates = self.dates[start : start + self.window]
            forcings = compute_forcings(
                self.layout.computed_forcings, dates, self.latitudes, self.longitudes
            )
            fields = np.concatenate([fields, forcings], axis=1)  # [time, sample_variable, cell]
        sample = np.ascontiguousarray(
            fields.transpose(0, 2, 1), dtype=np.float32
        )  # [time, cell, sample_variable]
        return {"fields": torch.from_numpy(sample)}  # one tensor: one shared-memory hand-off


class WindowBatchSampler(Sampler[list[int]]):
    """Per-rank micro-batches of a seeded permutation; resumable part-way through an epoch."""

    def __init__(
        self,
        length: int,
        *,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> None:
        self.length = length
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        self.start_batch = 0

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world_size

    def __len__(self) -> int:
        if self.drop_last:
            return self.length // self.global_batch
        return -(-self.length // self.global_batch)

    def set_epoch(self, epoch: int, *, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        for batch in range(self.start_batch, len(self)):
            first = batch * self.global_batch + self.rank * self.batch_size
            indices = order[first : first + self.batch_size]
            if indices:
                yield indices


def make_loader(
    dataset: WindowDataset,
    sampler: WindowBatchSampler,
    *,
    num_workers: int,
    prefetch_factor: int,
    generator: torch.Generator,
    pin_memory: bool = False,
) -> DataLoader:
    """A loader with deterministic worker seeding (``generator`` draws the workers' base seed)."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        prefetch_factor=prefetch_factor if num_workers > 0 else None,
        worker_init_fn=seed_worker,
        generator=generator,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
