"""Learning-rate schedule (linear warm-up, then cosine decay) and the rollout curriculum.

The cosine decay follows Loshchilov & Hutter (2017), "SGDR: Stochastic gradient descent with
warm restarts" (one cycle, no restart); the warm-up follows Goyal et al. (2017), "Accurate,
large minibatch SGD". The rollout curriculum trains on one autoregressive step first and
lengthens the rollout on a schedule, as in GraphCast (Lam et al. 2023, supplement 4.5).
"""

from __future__ import annotations

import math

import torch

from wx_training.schema import RolloutConfig


class WarmupCosine:
    """Factor on the base learning rate at an optimizer step (``LambdaLR``'s ``lr_lambda``).

    Linear from ``1 / warmup_steps`` to 1 over ``warmup_steps``, then cosine down to
    ``min_factor`` at ``total_steps``; held at ``min_factor`` beyond. An object rather than a
    closure so that ``LambdaLR.state_dict`` stores its numbers (JSON), not code.
    """

    def __init__(self, *, warmup_steps: int, total_steps: int, min_factor: float) -> None:
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.min_factor = float(min_factor)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_factor + (1.0 - self.min_factor) * cosine


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    warmup_steps: int,
    total_steps: int,
    lr: float,
    min_lr: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` over :class:`WarmupCosine` (stepped once per optimizer step)."""
    schedule = WarmupCosine(
        warmup_steps=warmup_steps, total_steps=total_steps, min_factor=min_lr / lr
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=schedule)


def rollout_at(step: int, config: RolloutConfig) -> int:
    """Rollout length at optimizer ``step``: ``start``, + ``increment`` every ``every`` steps."""
    grown = config.start + (step // config.every) * config.increment
    return int(min(config.maximum, grown))
