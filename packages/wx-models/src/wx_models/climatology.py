"""Harmonic climatology of prognostic variables, an input that lets a model revert to the mean.

A cell's climatology is a truncated Fourier series in the time of year ``J`` and the local solar
time ``L`` (both as angles, 2π per year and per day), fitted by least squares to the training
period, as climatologies are fitted to daily data by harmonic regression (Epstein 1991, "On
obtaining daily climatological values from monthly means", J. Climate 4, 365-368):

    c(J, L) = a0 + Σ_{k=1..K} (a_k cos kJ + b_k sin kJ) + Σ_{k=1,2} (c_k cos kL + d_k sin kL)
              + (e1 cos J + e2 sin J)(cos L) + (e3 cos J + e4 sin J)(sin L)

``9 + 2K`` coefficients per cell and variable: ``K`` annual harmonics (``annual_harmonics``,
default 2: the annual cycle and its first overtone), the diurnal cycle and its first overtone,
and a diurnal cycle whose amplitude and phase follow the season. Data four times a day see the
semidiurnal pair ``cos 2L``, ``sin 2L`` as one function (they alternate in sign from one step to
the next): a small ridge then splits it, and the climatology is exact at the hours the data
have, which are the hours the model steps through.

Fitted to a single year, each annual overtone also fits that year's own slow weather (a cold
month, a warm season), which is not climate: a model trained to relax towards it learns that
the year's anomalies die out, and carries that year's weather into the next. Climatologies are
fitted to many years, where the overtones average out; with one year of training data,
``annual_harmonics=1`` (the seasonal cycle alone) is the safer choice.

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
ANNUAL_HARMONICS = 2  # the default: the annual cycle and its first overtone
RIDGE = 1e-4  # relative to the mean diagonal of the normal equations
SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.2425  # the step's rotation of the year angle (the forcings use 365 or 366)


class ClimatologyError(ValueError):
    """A climatology that cannot be built: a missing forcing, a non-prognostic variable or a
    bad number of annual harmonics."""


def harmonic_terms(annual_harmonics: int = ANNUAL_HARMONICS) -> int:
    """The number of basis functions with ``annual_harmonics`` annual harmonics."""
    return 9 + 2 * annual_harmonics


def harmonic_basis(
    cos_j: torch.Tensor,
    sin_j: torch.Tensor,
    cos_l: torch.Tensor,
    sin_l: torch.Tensor,
    *,
    annual_harmonics: int = ANNUAL_HARMONICS,
) -> torch.Tensor:
    """The basis functions ``[..., 9 + 2 * annual_harmonics]`` of the angles' cosines and sines
    ``[...]``: the constant, the annual harmonics, then the diurnal and seasonal-diurnal terms."""
    check_annual_harmonics(annual_harmonics)
    terms = [torch.ones_like(cos_j)]
    cos_kj, sin_kj = torch.ones_like(cos_j), torch.zeros_like(sin_j)
    for _ in range(annual_harmonics):
        cos_kj, sin_kj = cos_kj * cos_j - sin_kj * sin_j, sin_kj * cos_j + cos_kj * sin_j
        terms += [cos_kj, sin_kj]
    cos_2l, sin_2l = cos_l * cos_l - sin_l * sin_l, 2 * sin_l * cos_l
    terms += [
        cos_l,
        sin_l,
        cos_2l,
        sin_2l,
        cos_j * cos_l,
        sin_j * cos_l,
        cos_j * sin_l,
        sin_j * sin_l,
    ]
    return torch.stack(terms, dim=-1)  # [..., 9 + 2 * annual_harmonics]


def check_annual_harmonics(annual_harmonics: int) -> None:
    if isinstance(annual_harmonics, bool) or not isinstance(annual_harmonics, int):
        raise ClimatologyError(
            f"climatology_harmonics {annual_harmonics!r}: expected an integer number of annual "
            "harmonics >= 1"
        )
    if annual_harmonics < 1:
        raise ClimatologyError(
            f"climatology_harmonics {annual_harmonics}: expected at least 1 annual harmonic (the "
            "seasonal cycle)"
        )


def rotate(cos_a: torch.Tensor, sin_a: torch.Tensor, angle: float):
    """Cosine and sine of ``a + angle`` from those of ``a``."""
    c, s = math.cos(angle), math.sin(angle)
    return cos_a * c - sin_a * s, sin_a * c + cos_a * s


class HarmonicClimatology(nn.Module):
    """Climatology of ``variables`` at the last input step and one ``step_seconds`` later.

    ``coefficients`` ``[cell, variable, term]`` are a persistent buffer (saved in checkpoints),
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
        annual_harmonics: int = ANNUAL_HARMONICS,
    ) -> None:
        super().__init__()
        check_annual_harmonics(annual_harmonics)
        self.variables = list(variables)
        self.annual_harmonics = annual_harmonics
        self.terms = harmonic_terms(annual_harmonics)
        self.register_buffer(
            "coefficients", torch.zeros(num_cells, len(self.variables), self.terms)
        )
        self.register_buffer(
            "angle_columns", torch.as_tensor(list(angle_columns)), persistent=False
        )
        self.day_step = 2 * math.pi * step_seconds / SECONDS_PER_DAY
        self.year_step = self.day_step / DAYS_PER_YEAR

    def later_basis(self, last_inputs: torch.Tensor) -> torch.Tensor:
        """``[batch, cell, term - 1]``: the basis functions one step after the last input step
        ``[batch, cell, input_variable]`` (the valid time), less the constant."""
        angles = last_inputs.index_select(-1, self.angle_columns).double()  # [batch, cell, 4]
        return self._later(*angles.unbind(-1))[..., 1:].to(last_inputs.dtype)

    def _later(self, cos_j, sin_j, cos_l, sin_l) -> torch.Tensor:
        return harmonic_basis(
            *rotate(cos_j, sin_j, self.year_step),
            *rotate(cos_l, sin_l, self.day_step),
            annual_harmonics=self.annual_harmonics,
        )  # [batch, cell, term]

    def forward(self, last_inputs: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, cell, 2 * variable]``: the climatology now, then one step later (physical
        units), from the last input step ``[batch, cell, input_variable]``; ``cells`` picks the
        rows of the coefficients (a shard's cells)."""
        coefficients = self.coefficients if cells is None else self.coefficients[cells]
        # float64, which autocast leaves alone: in bf16, 290 K would be rounded to 2 K
        angles = last_inputs.index_select(-1, self.angle_columns).double()  # [batch, cell, 4]
        cos_j, sin_j, cos_l, sin_l = angles.unbind(-1)
        harmonics = self.annual_harmonics
        now = harmonic_basis(cos_j, sin_j, cos_l, sin_l, annual_harmonics=harmonics)
        later = self._later(cos_j, sin_j, cos_l, sin_l)  # [batch, cell, term]
        weights = coefficients.double()  # [cell, variable, term]
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
        basis = harmonic_basis(*angles_t.unbind(-1), annual_harmonics=self.annual_harmonics)
        basis = basis.permute(1, 0, 2)  # [time, cell, term] -> [cell, time, term]
        targets = torch.as_tensor(values).permute(1, 0, 2)  # [cell, time, variable]
        gram = basis.transpose(1, 2) @ basis  # [cell, term, term]
        # a small ridge keeps the coefficients moderate where terms are nearly collinear (the
        # annual terms over a period of weeks, the semidiurnal pair at 6-hourly data)
        ridge = RIDGE * gram.diagonal(dim1=1, dim2=2).mean(dim=1)  # [cell]
        gram += ridge[:, None, None] * torch.eye(self.terms, dtype=gram.dtype)
        solution = torch.linalg.solve(gram, basis.transpose(1, 2) @ targets)  # [cell, term, var]
        self.coefficients.copy_(solution.transpose(1, 2).to(self.coefficients.dtype))
        residual = targets - basis @ solution  # [cell, time, variable]
        rms = residual.square().mean(dim=(0, 1)).sqrt()
        return {name: float(rms[i]) for i, name in enumerate(self.variables)}
