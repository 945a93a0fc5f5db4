"""Ensemble members: from the input's ensemble dimension, or perturbed initial conditions.

- An input with several members (e.g. the ERA5 ensemble of data assimilations) is forecast
  member by member: ``members: null`` takes every input member, ``members: N`` the first N.
- An input with one member gives a deterministic forecast, unless ``members: N > 1`` asks for an
  ensemble: member 0 is the unperturbed control and members 1..N-1 add to every prognostic
  variable of the initial state (the same field at each input step) independent Gaussian noise
  of standard deviation ``scale`` times the variable's one-step tendency standard deviation from
  the checkpoint's statistics, drawn from ``numpy.random.default_rng([seed, init_index])`` so a
  run is reproducible and each initial date gets its own perturbations. Uncorrelated in space,
  these perturbations are a simple baseline, not a calibrated ensemble generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MemberPlan:
    """Which input member each forecast member starts from, and whether it is perturbed."""

    input_members: np.ndarray  # [member] index into the input's ensemble dimension
    perturbed: bool
    scale: float = 0.0
    seed: int = 0

    @property
    def count(self) -> int:
        return int(self.input_members.size)

    @property
    def has_member_dim(self) -> bool:
        return self.count > 1

    def describe(self) -> dict:
        source = "perturbed initial conditions" if self.perturbed else "input ensemble members"
        description = {
            "count": self.count,
            "source": source,
            "input_members": self.input_members.tolist(),
        }
        if self.perturbed:
            description |= {"perturbation_scale": self.scale, "seed": self.seed}
        return description


def plan_members(
    ensemble_size: int, members: int | None, *, scale: float = 0.5, seed: int = 0
) -> MemberPlan:
    """The member plan for an input with ``ensemble_size`` members (see the module docstring)."""
    if ensemble_size > 1:
        count = ensemble_size if members is None else members
        return MemberPlan(input_members=np.arange(count), perturbed=False)
    count = 1 if members is None else members
    return MemberPlan(
        input_members=np.zeros(count, dtype=np.int64), perturbed=count > 1, scale=scale, seed=seed
    )


def perturb(
    history: np.ndarray,
    plan: MemberPlan,
    *,
    variable_stdev: np.ndarray,
    init_index: int,
) -> np.ndarray:
    """``history`` ``[member, input_steps, cell, variable]`` with members 1.. perturbed.

    ``variable_stdev`` ``[variable]`` is the tendency standard deviation of each input
    variable, 0 for those not perturbed (forcings, constants).
    """
    if not plan.perturbed:
        return history
    rng = np.random.default_rng([plan.seed, init_index])
    members, _, cells, variables = history.shape
    noise = rng.standard_normal((members - 1, 1, cells, variables))  # [member-1, 1, cell, var]
    perturbed = history.copy()
    perturbed[1:] += (plan.scale * noise * variable_stdev).astype(history.dtype)
    return perturbed
