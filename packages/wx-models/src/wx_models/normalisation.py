"""Per-variable normalisation inside the model, from dataset statistics.

Each variable has a kind: ``mean-std`` (``(x - mean) / stdev``), ``min-max``
(``(x - minimum) / (maximum - minimum)``) or ``none``. Residual outputs are tendencies
``x(t + step) - x(t)``: they are scaled by the tendency statistics (``tendency_mean``,
``tendency_stdev``), as GraphCast scales its residual targets by the standard deviation of
time differences (Lam et al. 2023, supplement 4.4), unless the kind is ``none``. The offsets and
scales are buffers, so a checkpoint carries them and inference never needs the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from wx_models.variables import VariableError, statistic

NORMALISERS = ("mean-std", "min-max", "none")


def check_kind(name: str, kind: str) -> str:
    if kind not in NORMALISERS:
        raise VariableError(
            f"normaliser for {name!r}: {kind!r} is not one of {', '.join(NORMALISERS)}"
        )
    return kind


def state_affine(
    name: str, kind: str, statistics: Mapping[str, Mapping[str, float]]
) -> tuple[float, float]:
    """``(offset, scale)`` with ``normalised = (x - offset) / scale`` for a state variable."""
    if check_kind(name, kind) == "none":
        return 0.0, 1.0
    if kind == "mean-std":
        offset, scale = statistic(statistics, name, "mean"), statistic(statistics, name, "stdev")
        hint = "stdev"
    else:
        offset = statistic(statistics, name, "minimum")
        scale = statistic(statistics, name, "maximum") - offset
        hint = "maximum - minimum"
    if scale <= 0:
        raise VariableError(
            f"statistics[{name!r}]: {hint} is {scale}, cannot normalise with {kind!r}; "
            "choose normaliser 'none' for a variable that does not vary"
        )
    return offset, scale


def tendency_affine(
    name: str, kind: str, statistics: Mapping[str, Mapping[str, float]]
) -> tuple[float, float]:
    """``(offset, scale)`` of a residual output's tendency (identity for kind ``none``)."""
    if check_kind(name, kind) == "none":
        return 0.0, 1.0
    offset = statistic(statistics, name, "tendency_mean")
    scale = statistic(statistics, name, "tendency_stdev")
    if scale <= 0:
        raise VariableError(
            f"statistics[{name!r}]: tendency_stdev is {scale}; a residual output needs a "
            "positive tendency_stdev (or normaliser 'none')"
        )
    return offset, scale


class Normaliser(nn.Module):
    """``normalise(x) = (x - offset) / scale`` over the last (variable) dimension, and back."""

    def __init__(self, *, offset: Sequence[float], scale: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32))  # [variable]
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))  # [variable]

    @classmethod
    def for_states(
        cls,
        names: Sequence[str],
        kinds: Mapping[str, str],
        statistics: Mapping[str, Mapping[str, float]],
    ) -> Normaliser:
        pairs = [state_affine(name, kinds[name], statistics) for name in names]
        return cls(offset=[p[0] for p in pairs], scale=[p[1] for p in pairs])

    def normalise(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.offset) / self.scale

    def denormalise(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.scale + self.offset
