"""Forcing that keeps the shallow-water flow statistically steady: relaxation, drag, stirring.

A single layer has no baroclinic instability, so without forcing its turbulence decays into a
few zonal jets within months. Two ingredients keep it atmosphere-like for years: relaxation of
the free surface towards a zonal profile with mid-latitude jets, with linear drag on the winds
(the forced-dissipative shallow-water models of Scott & Polvani 2007, J. Atmos. Sci. 64), and
a red-noise vorticity stirring at synoptic scales that stands in for the missing eddy
generation (the stochastically stirred barotropic model of Vallis, Gerber, Kushner
& Cash 2004, J. Atmos. Sci. 61, 264-280).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wx_datasets.shallow_water.spectral import SpectralTransform


@dataclass(frozen=True)
class Forcing:
    """Linear forcing towards a steady zonal state: relaxation of the layer plus Rayleigh drag.

    The target is the depth geopotential ``g (h_eq - h_s)`` of a zonal free surface ``h_eq``.
    """

    equilibrium_geopotential: np.ndarray  # [m, j] complex, target g * depth
    relaxation_time: float  # s
    drag_time: float  # s


class Stirring:
    """Red-noise vorticity forcing in a band of total wavenumbers, one stream per member.

    Stands in for the synoptic eddy generation a single layer lacks (the stochastic stirring
    of Vallis et al. 2004, J. Atmos. Sci. 61, 264-280): an AR(1) process in time with
    decorrelation time ``memory``, isotropic on the sphere, with grid RMS ``amplitude`` (s-2).
    """

    def __init__(
        self,
        *,
        transform: SpectralTransform,
        seeds: list[int],
        amplitude: float,
        band: tuple[int, int],
        memory: float,
        time_step: float,
    ) -> None:
        n = transform.degree  # [m, j]
        inside = (n >= band[0]) & (n <= min(band[1], transform.truncation))  # [m, j]
        degrees = np.arange(band[0], min(band[1], transform.truncation) + 1)
        harmonics = float(np.sum(2 * degrees + 1))
        # area mean of f^2 is sum_n (2n+1) sigma^2 / 2 for coefficient variance sigma^2
        self._scale = amplitude * np.sqrt(2.0 / max(harmonics, 1.0)) * inside
        self._generators = [np.random.default_rng([seed, 0x737469]) for seed in seeds]
        self._memory = float(np.exp(-time_step / memory))
        self.pattern = self._draw()  # [member, m, j]

    def _draw(self) -> np.ndarray:
        noise = []
        for generator in self._generators:
            real, imaginary = generator.standard_normal((2, *self._scale.shape))
            coefficients = (real + 1j * imaginary) / np.sqrt(2.0)
            coefficients[0] = real[0]  # m = 0 is real with the full variance
            noise.append(coefficients * self._scale)
        return np.stack(noise)

    def advance(self) -> np.ndarray:
        """The pattern one time step later."""
        memory = self._memory
        self.pattern = memory * self.pattern + np.sqrt(1.0 - memory * memory) * self._draw()
        return self.pattern
