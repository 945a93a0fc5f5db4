"""Training checkpoints: safetensors for tensors, a JSON header for the rest; atomic; rotated.

A training checkpoint holds everything a resumed run needs to continue exactly: model weights,
optimizer and scheduler state, every RNG state (per rank), the step and the data position. It is
one safetensors file (tensors ``model/...``, ``optimizer/...``, ``scheduler/...``, ``rng/...``)
whose ``__metadata__["wx"]`` is a wx metadata header (``format: "wx-training-checkpoint"``).
Files are written under a temporary name and renamed, so a file under a final name is always
complete. :class:`CheckpointFolder` keeps the last K files of a kind and a copy of the best.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from wx_training.state_io import join_state, split_state
from wx_utils.artifacts import WX_METADATA_KEY, read_safetensors_header
from wx_utils.metadata import MetadataError, make_header, to_json

LOG = logging.getLogger(__name__)

TRAINING_CHECKPOINT_FORMAT = "wx-training-checkpoint"
TRAINING_CHECKPOINT_VERSION = 1


class ResumeError(ValueError):
    """A checkpoint that cannot resume this run (another model, another format, ...)."""


@dataclass(frozen=True)
class TrainingCheckpoint:
    """A training checkpoint read back from disk."""

    path: Path
    step: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any]
    rng_states: list[dict[str, Any]]  # one per rank
    data_position: dict[str, Any]
    model_signature: dict[str, Any]
    header: dict[str, Any]


def atomic_save_safetensors(path: Path, tensors: dict[str, torch.Tensor], header: dict) -> Path:
    """Write tensors and a wx header to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(temporary), metadata={WX_METADATA_KEY: to_json(header)})
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def save_training_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rng_states: list[dict[str, Any]],
    step: int,
    data_position: dict[str, Any],
    model_signature: dict[str, Any],
    provenance: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a training checkpoint atomically; ``model`` is the bare module (not DDP)."""
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        split_state(value, f"model/{name}", tensors)
    header = make_header(
        format_name=TRAINING_CHECKPOINT_FORMAT,
        format_version=TRAINING_CHECKPOINT_VERSION,
        provenance=provenance,
        step=step,
        data_position=data_position,
        model_signature=model_signature,
        optimizer=split_state(optimizer.state_dict(), "optimizer", tensors),
        scheduler=split_state(scheduler.state_dict(), "scheduler", tensors),
        rng=split_state(rng_states, "rng", tensors),
        **(extra or {}),
    )
    return atomic_save_safetensors(Path(path), tensors, header)


def read_training_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a training checkpoint; ResumeError if the file is something else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such training checkpoint")
    try:
        extra = read_safetensors_header(path).get("__metadata__") or {}
        header = json.loads(extra[WX_METADATA_KEY])
    except (MetadataError, KeyError, json.JSONDecodeError) as error:
        raise ResumeError(f"{path}: not a wx training checkpoint ({error})") from None
    kind = header.get("format")
    if kind != TRAINING_CHECKPOINT_FORMAT:
        hint = (
            " (an inference checkpoint: start from its weights with fork.checkpoint)"
            if kind == "wx-checkpoint"
            else ""
        )
        raise ResumeError(f"{path}: a {kind!r} file, not a {TRAINING_CHECKPOINT_FORMAT!r}{hint}")
    if header.get("format_version", 0) > TRAINING_CHECKPOINT_VERSION:
        raise ResumeError(
            f"{path}: training checkpoint format version {header['format_version']} is newer "
            f"than this wx-training reads ({TRAINING_CHECKPOINT_VERSION}); upgrade wx-training"
        )
    return header


def load_training_checkpoint(path: str | Path) -> TrainingCheckpoint:
    """Read a training checkpoint (tensors and JSON only; nothing is unpickled)."""
    path = Path(path)
    header = read_training_header(path)
    tensors = load_file(str(path))
    model_state = {
        name.removeprefix("model/"): value
        for name, value in tensors.items()
        if name.startswith("model/")
    }
    return TrainingCheckpoint(
        path=path,
        step=int(header["step"]),
        model_state=model_state,
        optimizer_state=join_state(header["optimizer"], tensors),
        scheduler_state=join_state(header["scheduler"], tensors),
        rng_states=join_state(header["rng"], tensors),
        data_position=header["data_position"],
        model_signature=header["model_signature"],
        header=header,
    )


def check_same_model(checkpoint_signature: dict, signature: dict, *, source: Path) -> None:
    """ResumeError naming the first difference between a checkpoint's model and this one."""
    theirs = {k: v for k, v in checkpoint_signature.items() if k != "parameters"}
    ours = {k: v for k, v in signature.items() if k != "parameters"}
    difference = _first_difference(theirs, ours)
    if difference is not None:
        key, old, new = difference
        raise ResumeError(
            f"{source}: training checkpoint is from another model: {key} is {_short(old)} in "
            f"the checkpoint and {_short(new)} in this run"
        )
    theirs, ours = checkpoint_signature.get("parameters", {}), signature.get("parameters", {})
    for name in sorted(set(theirs) | set(ours)):
        if theirs.get(name) != ours.get(name):
            raise ResumeError(
                f"{source}: training checkpoint is from another model: parameter {name!r} has "
                f"shape {theirs.get(name)} in the checkpoint and {ours.get(name)} in this run"
            )


def _first_difference(theirs: Any, ours: Any, key: str = "") -> tuple[str, Any, Any] | None:
    """``(dotted key, theirs, ours)`` of the first difference, in key order; None if equal."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for name in sorted(set(theirs) | set(ours)):
            found = _first_difference(
                theirs.get(name), ours.get(name), f"{key}.{name}" if key else str(name)
            )
            if found is not None:
                return found
        return None
    return None if theirs == ours else (key, theirs, ours)


class CheckpointFolder:
    """Files ``<prefix>-step<N>.safetensors`` in a folder: keep the last K and a best copy."""

    def __init__(self, folder: str | Path, *, prefix: str, keep_last: int) -> None:
        self.folder = Path(folder)
        self.prefix = prefix
        self.keep_last = keep_last
        self._pattern = re.compile(rf"^{re.escape(prefix)}-step(\d+)\.safetensors$")

    def path_for(self, step: int) -> Path:
        return self.folder / f"{self.prefix}-step{step:08d}.safetensors"

    @property
    def best_path(self) -> Path:
        return self.folder / f"{self.prefix}-best.safetensors"

    def steps(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = self._pattern.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def latest(self) -> Path | None:
        steps = self.steps()
        return steps[-1][1] if steps else None

    def prune(self) -> list[Path]:
        """Delete all but the newest ``keep_last`` files; returns those deleted."""
        steps = self.steps()
        removed = [path for _, path in steps[: max(0, len(steps) - self.keep_last)]]
        for path in removed:
            path.unlink(missing_ok=True)
        return removed

    def mark_best(self, path: Path) -> Path:
        """Make ``<prefix>-best`` a copy of ``path``."""
        return link_or_copy(path, self.best_path)


def link_or_copy(source: Path, target: Path) -> Path:
    """``target`` becomes a copy of ``source`` (a hard link where possible), atomically."""
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    os.replace(temporary, target)
    return target


def resolve_resume_path(value: str | Path) -> Path:
    """A training checkpoint file, or the newest one in a run directory."""
    path = Path(value)
    if path.is_dir():
        latest = CheckpointFolder(path / "checkpoints", prefix="training", keep_last=1).latest()
        if latest is None:
            raise FileNotFoundError(
                f"resume={value}: no training checkpoint in {path / 'checkpoints'}"
            )
        return latest
    if not path.is_file():
        raise FileNotFoundError(f"resume={value}: no such training checkpoint or run directory")
    return path


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
