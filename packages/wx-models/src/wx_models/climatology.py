"""Harmonic climatology of prognostic variables, an input that lets a model revert to the mean.

A cell's climatology is a truncated Fourier series in the time of year ``J`` and the local solar
time ``L`` (both as angles, 2π per year and per day), fitted by least squares to the training
period, as climatologies are fitted to daily data by harmonic regression (Epstein 1991, "On
obtaining daily climatological values from monthly means", J. Climate 4, 365-368):

    c(J, L) = a0 + Σ_{k=1,2} (a_k cos kJ + b_k sin kJ) + Σ_{k=1,2} (c_k cos kL + d_k sin kL)
              + (e1 cos J + e2 sin J)(cos L) + (e3 cos J + e4 sin J)(sin L)

13 coefficients per cell and variable: the annual cycle and its first overtone, the diurnal
cycle and its first overtone, and a diurnal cycle whose amplitude and phase follow the season.
Data four times a day see the semidiurnal pair ``cos 2L``, ``sin 2L`` as one function (they
alternate in sign from one step to the next): a small ridge then splits it, and the climatology
is exact at the hours the data have, which are the hours the model steps through.

The model reads ``J`` and ``L`` from its own forcing inputs (``cos_julian_day``,
``sin_julian_day``, ``cos_local_time``, ``sin_local_time``) at the last input step, and gets the
climatology there and one time step later (the angles rotated by the step: ``cos(a + δ) = cos a
cos δ - sin a sin δ``), so nothing beyond its usual inputs is needed, in training or inference.
Given both, the network can forecast anomalies and let them decay towards the climatology, as a
forecast should once its skill is spent, instead of learning the climatology from scratch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ANGLE_FORCINGS = ("cos_julian_day", "sin_julian_day", "cos_local_time", "sin_local_time")
TERMS = 13
RIDGE = 1e-4  # relative to the mean diagonal of the normal equations
SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.2425  # the step's rotation of the year angle (the forcings use 365 or 366)


class ClimatologyError(ValueError):
    """A climatology that cannot be built: a missing forcing or a non-prognostic variable."""


def harmonic_basis(
    cos_j: torch.Tensor, sin_j: torch.Tensor, cos_l: torch.Tensor, sin_l: torch.Tensor
) -> torch.Tensor:
    """The 13 basis functions ``[..., 13]`` of the angles' cosines and sines ``[...]``."""
    cos_2j, sin_2j = cos_j * cos_j - sin_j * sin_j, 2 * sin_j * cos_j
    cos_2l, sin_2l = cos_l * cos_l - sin_l * sin_l, 2 * sin_l * cos_l
    terms = [
        torch.ones_like(cos_j),
        cos_j,
        sin_j,
        cos_2j,
        sin_2j,
        cos_l,
        sin_l,
        cos_2l,
        sin_2l,
        cos_j * cos_l,
        sin_j * cos_l,
        cos_j * sin_l,
        sin_j * sin_l,
    ]
    return torch.stack(terms, dim=-1)  # [..., 13]


def rotate(cos_a: torch.Tensor, sin_a: torch.Tensor, angle: float):
    """Cosine and sine of ``a + angle`` from those of ``a``."""
    c, s = math.cos(angle), math.sin(angle)
    return cos_a * c - sin_a * s, sin_a * c + cos_a * s


class HarmonicClimatology(nn.Module):
    """Climatology of ``variables`` at the last input step and one ``step_seconds`` later.

    ``coefficients`` ``[cell, variable, 13]`` are a persistent buffer (saved in checkpoints),
    zero until :meth:`fit` fills them; ``angle_columns`` are the input columns of the four
    angle forcings, in :data:`ANGLE_FORCINGS` order.
    """

    def __init__(
        self,
        *,
        variables: Sequence[str],
        num_cells: int,
        angle_columns: Sequence[int],
        step_seconds: float,
    ) -> None:
        super().__init__()
        self.variables = list(variables)
        self.register_buffer("coefficients", torch.zeros(num_cells, len(self.variables), TERMS))
        self.register_buffer(
            "angle_columns", torch.as_tensor(list(angle_columns)), persistent=False
        )
        self.day_step = 2 * math.pi * step_seconds / SECONDS_PER_DAY
        self.year_step = self.day_step / DAYS_PER_YEAR

    def forward(self, last_inputs: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, cell, 2 * variable]``: the climatology now, then one step later (physical
        units), from the last input step ``[batch, cell, input_variable]``; ``cells`` picks the
        rows of the coefficients (a shard's cells)."""
        coefficients = self.coefficients if cells is None else self.coefficients[cells]
        # float64, which autocast leaves alone: in bf16, 290 K would be rounded to 2 K
        angles = last_inputs.index_select(-1, self.angle_columns).double()  # [batch, cell, 4]
        cos_j, sin_j, cos_l, sin_l = angles.unbind(-1)
        now = harmonic_basis(cos_j, sin_j, cos_l, sin_l)  # [batch, cell, 13]
        later = harmonic_basis(
            *rotate(cos_j, sin_j, self.year_step), *rotate(cos_l, sin_l, self.day_step)
        )  # [batch, cell, 13]
        weights = coefficients.double()  # [cell, variable, 13]
        values = [torch.einsum("bct,cvt->bcv", basis, weights) for basis in (now, later)]
        return torch.cat(values, dim=-1).to(last_inputs.dtype)  # [batch, cell, 2 * variable]

    @torch.no_grad()
    def fit(self, values: np.ndarray, angles: np.ndarray) -> dict[str, float]:
        """Least-squares coefficients from ``values`` ``[time, cell, variable]`` and the angle
        forcings ``angles`` ``[time, cell, 4]`` at the same dates; returns the RMS residual of
        each variable (what the climatology does not explain)."""
        values = np.asarray(values, dtype=np.float64)
        angles_t = torch.as_tensor(np.asarray(angles, dtype=np.float64))
        expected = (values.shape[0], self.coefficients.shape[0], len(self.variables))
        if values.shape != expected or angles_t.shape != (*expected[:2], 4):
            raise ClimatologyError(
                f"climatology fit: expected values {list(expected)} and angles "
                f"{[*expected[:2], 4]}, got {list(values.shape)} and {list(angles_t.shape)}"
            )
        basis = harmonic_basis(*angles_t.unbind(-1)).permute(1, 0, 2)  # [cell, time, 13]
        targets = torch.as_tensor(values).permute(1, 0, 2)  # [cell, time, variable]
        gram = basis.transpose(1, 2) @ basis  # [cell, 13, 13]
        # a small ridge keeps the coefficients moderate where terms are nearly collinear (the
        # annual terms over a period of weeks, the semidiurnal pair at 6-hourly data)
        ridge = RIDGE * gram.diagonal(dim1=1, dim2=2).mean(dim=1)  # [cell]
        gram += ridge[:, None, None] * torch.eye(TERMS, dtype=gram.dtype)
        solution = torch.linalg.solve(gram, basis.transpose(1, 2) @ targets)  # [cell, 13, var]
        self.coefficients.copy_(solution.transpose(1, 2).to(self.coefficients.dtype))
        residual = targets - basis @ solution  # [cell, time, variable]
        rms = residual.square().mean(dim=(0, 1)).sqrt()
        return {name: float(rms[i]) for i, name in enumerate(self.variables)}
