"""Start a run from another run's weights (transfer learning, fine-tuning, new variables).

The source is an inference checkpoint (``wx-checkpoint``) or a training checkpoint. Only
parameters are copied; buffers (normalisation statistics, graph) come from the new run's data
and graph. ``strict`` requires every parameter of the new model to be found with the same shape
and every source parameter to be used. Otherwise parameters are matched by name (after the
config's ``mapping``, exact names or prefixes ending in ``.``) and shape; those without a match,
e.g. the input and output layers when variables were added, keep their fresh initialisation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from wx_training.checkpoints import TRAINING_CHECKPOINT_FORMAT, load_training_checkpoint
from wx_utils.artifacts import read_artifact_metadata

LOG = logging.getLogger(__name__)


class ForkError(ValueError):
    """Weights that cannot start this model as asked."""


def source_parameters(path: str | Path) -> dict[str, torch.Tensor]:
    """Parameters (not buffers) of an inference or training checkpoint; nothing is unpickled."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config key fork.checkpoint: {path} does not exist")
    kind = read_artifact_metadata(path)["format"]
    if kind == TRAINING_CHECKPOINT_FORMAT:
        checkpoint = load_training_checkpoint(path)
        names = checkpoint.model_signature["parameters"]
        return {name: checkpoint.model_state[name] for name in names}
    if kind == "wx-checkpoint":
        from wx_models import load_checkpoint

        model, _ = load_checkpoint(path)
        return {name: value.detach() for name, value in model.named_parameters()}
    raise ForkError(f"config key fork.checkpoint: {path} is a {kind!r}, not a wx checkpoint")


def source_name(name: str, mapping: Mapping[str, str]) -> str:
    """The parameter's name in the source: an exact mapping, else the longest matching prefix."""
    if name in mapping:
        return mapping[name]
    prefixes = [prefix for prefix in mapping if prefix.endswith(".") and name.startswith(prefix)]
    if prefixes:
        prefix = max(prefixes, key=len)
        return mapping[prefix] + name[len(prefix) :]
    return name


@torch.no_grad()
def fork_weights(
    model: torch.nn.Module, path: str | Path, *, strict: bool, mapping: Mapping[str, str]
) -> dict[str, list[str]]:
    """Copy parameters from ``path`` into ``model``; returns what was copied and initialised."""
    source = source_parameters(path)
    copied, initialised, used = [], [], set()
    for name, parameter in model.named_parameters():
        origin = source_name(name, mapping)
        value = source.get(origin)
        if value is not None and tuple(value.shape) == tuple(parameter.shape):
            parameter.copy_(value.to(parameter.dtype))
            copied.append(name)
            used.add(origin)
        else:
            reason = (
                "missing"
                if value is None
                else f"shape {list(value.shape)} != {list(parameter.shape)}"
            )
            initialised.append(f"{name} ({reason})")
    unused = sorted(set(source) - used)
    if strict and (initialised or unused):
        problems = initialised[:5] + [f"{name} (not in this model)" for name in unused[:5]]
        raise ForkError(
            f"config key fork.checkpoint: {path} does not fit this model strictly: "
            f"{', '.join(problems)}; set fork.strict=false to initialise what does not fit, or map "
            "renamed parameters with fork.mapping"
        )
    LOG.info(
        "forked %d parameters from %s; initialised %d: %s",
        len(copied),
        path,
        len(initialised),
        initialised,
    )
    return {"copied": copied, "initialised": initialised, "unused": unused}
