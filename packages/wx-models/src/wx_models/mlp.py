"""The multi-layer perceptron used throughout: Linear, SiLU (swish), Linear, optional LayerNorm.

As in GraphCast (Lam et al. 2023, supplement section 3): one hidden layer with the swish
activation (Ramachandran et al. 2017) and a LayerNorm (Ba et al. 2016) on the output of every
MLP except the one that produces the model's output.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


class MLP(nn.Module):
    """``Linear(input, hidden) -> SiLU -> Linear(hidden, output) [-> LayerNorm]``."""

    def __init__(
        self, *, input_size: int, hidden_size: int, output_size: int, layer_norm: bool = True
    ) -> None:
        super().__init__()
        self.hidden = nn.Linear(input_size, hidden_size)
        self.output = nn.Linear(hidden_size, output_size)
        self.norm = nn.LayerNorm(output_size) if layer_norm else nn.Identity()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.norm(self.output(functional.silu(self.hidden(inputs))))
