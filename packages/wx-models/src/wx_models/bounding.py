"""Physical bounds on outputs, applied in physical units after denormalisation.

Rules are plain dicts (saved in the checkpoint as JSON), applied in this order:

- ``{"type": "relu", "variables": [...]}`` (alias ``"non-negative"``): ``max(y, 0)``, e.g.
  precipitation and specific humidity (AIFS bounds its precipitation outputs the same way,
  Lang et al. 2024);
- ``{"type": "clamp", "variables": [...], "minimum": a, "maximum": b}``: ``min(max(y, a), b)``
  (either bound may be left out, e.g. a cloud cover in [0, 1]);
- ``{"type": "fraction", "variables": [...], "of": "total"}``: ``y = sigmoid(z) * y_total``
  where ``z`` is the network's raw output for the variable, so e.g. convective precipitation
  never exceeds the (bounded) total precipitation. Fraction variables are full-state outputs.

Bounds clip the value; where a bound is active the gradient is zero, as for a ReLU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from wx_models.variables import VariableError

BOUND_TYPES = ("relu", "non-negative", "clamp", "fraction")


def _check_rule(position: int, rule: Any, outputs: Sequence[str]) -> tuple[str, list[str]]:
    where = f"bounding[{position}]"
    if not isinstance(rule, Mapping):
        raise VariableError(f"{where}: expected a mapping with 'type' and 'variables'")
    kind = rule.get("type")
    if kind not in BOUND_TYPES:
        raise VariableError(f"{where}: type {kind!r} is not one of {', '.join(BOUND_TYPES)}")
    names = rule.get("variables")
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise VariableError(f"{where}: 'variables' must be a non-empty list of output names")
    allowed = {"type", "variables"} | {"clamp": {"minimum", "maximum"}, "fraction": {"of"}}.get(
        kind, set()
    )
    unknown = sorted(set(rule) - allowed)
    if unknown:
        raise VariableError(f"{where}: unknown keys {unknown} for type {kind!r}")
    for name in names:
        if name not in outputs:
            raise VariableError(f"{where}: {name!r} is not an output variable")
    return kind, list(names)


class OutputBounding(nn.Module):
    """Lower/upper bounds per output variable and fraction-of-total outputs."""

    def __init__(
        self, *, rules: Sequence[Mapping[str, Any]], outputs: Sequence[str], residual: Sequence[str]
    ) -> None:
        super().__init__()
        lower = [-math.inf] * len(outputs)
        upper = [math.inf] * len(outputs)
        total_index = list(range(len(outputs)))
        fraction = [False] * len(outputs)
        for position, rule in enumerate(rules):
            kind, names = _check_rule(position, rule, outputs)
            for name in names:
                i = outputs.index(name)
                if kind in ("relu", "non-negative"):
                    lower[i] = max(lower[i], 0.0)
                elif kind == "clamp":
                    low, high = rule.get("minimum"), rule.get("maximum")
                    if low is None and high is None:
                        raise VariableError(f"bounding[{position}]: clamp needs minimum or maximum")
                    lower[i] = max(lower[i], -math.inf if low is None else float(low))
                    upper[i] = min(upper[i], math.inf if high is None else float(high))
                else:
                    total = rule.get("of")
                    if total not in outputs or total == name:
                        raise VariableError(
                            f"bounding[{position}]: 'of' must name another output variable, "
                            f"got {total!r}"
                        )
                    if name in residual:
                        raise VariableError(
                            f"bounding[{position}]: fraction variable {name!r} must be a "
                            "full-state output, not residual"
                        )
                    fraction[i] = True
                    total_index[i] = outputs.index(total)
                if lower[i] > upper[i]:
                    raise VariableError(f"bounding: {name!r} has minimum above maximum")
        for i, is_fraction in enumerate(fraction):
            if is_fraction and fraction[total_index[i]]:
                raise VariableError(
                    f"bounding: the total of fraction {outputs[i]!r} is itself a fraction"
                )
            if is_fraction and (lower[i] > -math.inf or upper[i] < math.inf):
                raise VariableError(
                    f"bounding: {outputs[i]!r} is a fraction and takes its bounds from its total"
                )
        self.has_fractions = any(fraction)
        self.register_buffer("lower", torch.tensor(lower), persistent=False)  # [variable]
        self.register_buffer("upper", torch.tensor(upper), persistent=False)  # [variable]
        self.register_buffer("fraction", torch.tensor(fraction), persistent=False)  # [variable]
        self.register_buffer("total_index", torch.tensor(total_index), persistent=False)

    def forward(self, outputs: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Bounded ``outputs`` ``[..., variable]`` (physical); ``raw`` are network outputs."""
        bounded = torch.clamp(outputs, self.lower, self.upper)
        if not self.has_fractions:
            return bounded
        shares = torch.sigmoid(raw) * bounded.index_select(-1, self.total_index)
        return torch.where(self.fraction, shares, bounded)
