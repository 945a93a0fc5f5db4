"""The rotating shallow-water equations on the sphere, spectral transform, semi-implicit leapfrog.

Vorticity-divergence form (Williamson et al. 1992, J. Comput. Phys. 102, 211-224;
Hack & Jakob 1992, NCAR/TN-343+STR, the NCAR STSWM), with ``eta = zeta + f``,
``Phi = g h`` the geopotential of the fluid depth, ``Phi_s = g h_s`` of the orography and
``U, V`` the winds times ``cos(latitude)``::

    d zeta/dt  = -div(eta V)
    d delta/dt =  curl(eta V) - lap(Phi + Phi_s + (U^2 + V^2) / (2 cos^2 lat))
    d Phi/dt   = -div(Phi V)

Time stepping is the semi-implicit leapfrog of Robert, Henderson & Turnbull (1972) as in Hack & Jakob
(1992): the gravity-wave terms ``-lap Phi`` and ``-Phi_bar delta`` (``Phi_bar`` the mean
depth geopotential) are averaged over ``t - dt`` and ``t + dt``, which removes the gravity-wave
limit on the time step, so only advection limits it (``|V| dt sqrt(T(T+1)) / a < 1``). The
computational mode is damped by the Robert-Asselin-Williams filter (Williams 2009, Mon. Wea.
Rev. 137, 2538-2546; ``alpha = 0.53``), which keeps the accuracy of the physical mode.
Scale-selective hyperdiffusion ``-K (-lap)^(order/2)`` (order 4 or 8) is applied implicitly to
vorticity, divergence and depth, with ``K`` set by the e-folding time of wavenumber ``T``.

Optionally the flow is kept statistically steady (a forced-dissipative atmosphere, in the
spirit of the forced shallow-water models of Scott & Polvani 2007, J. Atmos. Sci. 64): the free
surface relaxes towards a zonal "radiative equilibrium" profile and the winds feel linear (Rayleigh)
drag, both with time scales of days, evaluated at ``t - dt`` as usual for leapfrog; and a
red-noise vorticity stirring at synoptic scales (:mod:`.forcing`) stands in for the eddies
that baroclinic instability would make in a deeper atmosphere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wx_datasets.shallow_water.errors import MeanDepthError, TimeStepError
from wx_datasets.shallow_water.forcing import Forcing, Stirring
from wx_datasets.shallow_water.spectral import SpectralTransform

GRAVITY = 9.80616  # m s-2 (Williamson et al. 1992)
ROTATION = 7.292e-5  # s-1
COURANT_LIMIT = 1.0


@dataclass(frozen=True)
class State:
    """Spectral prognostic variables of a batch of independent trajectories (members)."""

    vorticity: np.ndarray  # [member, m, j] complex, s-1
    divergence: np.ndarray  # [member, m, j] complex, s-1
    geopotential: np.ndarray  # [member, m, j] complex, g * depth in m2 s-2 (mean included)


class ShallowWaterModel:
    """The shallow-water equations on a Gaussian grid with a given truncation and time step."""

    def __init__(
        self,
        *,
        transform: SpectralTransform,
        time_step: float,
        mean_depth: float,
        orography: np.ndarray | None = None,
        coriolis: np.ndarray | None = None,
        diffusion_order: int = 8,
        diffusion_time: float | None = 6 * 3600.0,
        forcing: Forcing | None = None,
        filter_strength: float = 0.2,
        filter_alpha: float = 0.53,
    ) -> None:
        if not mean_depth > 0:
            raise MeanDepthError(f"mean depth {mean_depth!r} m: expected a positive depth")
        if not time_step > 0:
            raise TimeStepError(f"time step {time_step!r} s: expected a positive number")
        if diffusion_order not in (4, 8):
            raise ValueError(f"diffusion order {diffusion_order}: expected 4 or 8 (del^4, del^8)")
        self.transform = transform
        self.time_step = float(time_step)
        self.mean_geopotential = GRAVITY * float(mean_depth)
        grid_shape = (transform.nlat, transform.nlon)
        self.orography = np.zeros(grid_shape) if orography is None else np.asarray(orography)
        self.surface_geopotential = transform.to_spectral(GRAVITY * self.orography)
        if coriolis is None:
            coriolis = np.broadcast_to(2 * ROTATION * transform.mu[:, None], grid_shape)
        self.coriolis = np.asarray(coriolis, dtype=float)  # [latitude, longitude]
        self.forcing = forcing
        self.filter_strength = filter_strength
        self.filter_alpha = filter_alpha
        self._metric = 1.0 / (transform.radius * (1.0 - transform.mu**2))[:, None]
        self._cos_latitude = np.sqrt(1.0 - transform.mu**2)[:, None]
        self._diffusion_rate = self._hyperdiffusion(diffusion_order, diffusion_time)

    def _hyperdiffusion(self, order: int, e_folding_time: float | None) -> np.ndarray:
        """Damping rate ``[m, j]`` in s-1, ``1 / e_folding_time`` at ``n = T``."""
        n = self.transform.degree
        if e_folding_time is None:
            return np.zeros(n.shape)
        truncation = self.transform.truncation
        scaled = (n * (n + 1.0)) / (truncation * (truncation + 1.0))
        return scaled ** (order // 2) / e_folding_time

    # --- tendencies -------------------------------------------------------------------------

    def tendencies(self, state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Explicit tendencies ``[member, m, j]`` of vorticity, divergence and geopotential.

        The linear gravity-wave terms (``-lap Phi``, ``-Phi_bar delta``) are left out: the
        semi-implicit step treats them.
        """
        transform = self.transform
        members = state.vorticity.shape[0]
        u_p, u_h, v_p, v_h = transform.wind_coefficients(state.vorticity, state.divergence)
        zeros = np.zeros_like(state.vorticity)
        grid = transform.synthesis(
            np.concatenate([state.vorticity, state.geopotential, u_p, v_p]),
            np.concatenate([zeros, zeros, u_h, v_h]),
        )  # [4 member, latitude, longitude]
        vorticity, geopotential, u_cos, v_cos = np.split(grid, 4)
        # fluxes times 1/(a cos^2): eta U, eta V, Phi' U, Phi' V, and (U^2 + V^2) / (2 cos^2)
        fluxes = np.empty((5, *vorticity.shape))  # [flux, member, latitude, longitude]
        u_scaled, v_scaled = u_cos * self._metric, v_cos * self._metric
        absolute = np.add(vorticity, self.coriolis, out=vorticity)
        np.multiply(absolute, u_scaled, out=fluxes[0])
        np.multiply(absolute, v_scaled, out=fluxes[1])
        perturbation = np.subtract(geopotential, self.mean_geopotential, out=geopotential)
        np.multiply(perturbation, u_scaled, out=fluxes[2])
        np.multiply(perturbation, v_scaled, out=fluxes[3])
        np.multiply(u_cos, u_scaled, out=fluxes[4])
        fluxes[4] += np.multiply(v_cos, v_scaled, out=v_cos)
        fluxes[4] *= 0.5 * transform.radius
        p, h = transform.analysis(fluxes.reshape(-1, transform.nlat, transform.nlon))
        m = transform.wavenumber
        slot = [slice(i * members, (i + 1) * members) for i in range(5)]
        vorticity_flux_div = m * p[slot[0]] - h[slot[1]]
        vorticity_flux_curl = m * p[slot[1]] + h[slot[0]]
        depth_flux_div = m * p[slot[2]] - h[slot[3]]
        bernoulli = p[slot[4]] + self.surface_geopotential
        return (
            -vorticity_flux_div,
            vorticity_flux_curl - transform.laplacian * bernoulli,
            -depth_flux_div,
        )

    # --- time stepping ----------------------------------------------------------------------

    def step(
        self,
        previous: State,
        current: State,
        *,
        first: bool = False,
        stirring: np.ndarray | None = None,
    ) -> State:
        """The state at ``t + dt`` from ``t - dt`` and ``t`` (a forward step when ``first``).

        ``stirring`` ``[member, m, j]`` is an extra vorticity tendency at ``t`` (s-2).
        """
        tau = 0.5 * self.time_step if first else self.time_step  # half the leapfrog interval
        n_vorticity, n_divergence, n_geopotential = self.tendencies(current)
        if stirring is not None:
            n_vorticity = n_vorticity + stirring
        if self.forcing is not None:
            n_vorticity, n_divergence, n_geopotential = self._add_forcing(
                previous, n_vorticity, n_divergence, n_geopotential
            )
        stiffness = -self.transform.laplacian  # [m, j] n(n+1)/a^2
        gravity_wave = tau * tau * stiffness * self.mean_geopotential
        divergence = (
            previous.divergence * (1.0 - gravity_wave)
            + 2 * tau * n_divergence
            + 2 * tau * stiffness * previous.geopotential
            + 2 * tau * tau * stiffness * n_geopotential
        ) / (1.0 + gravity_wave)
        geopotential = (
            previous.geopotential
            + 2 * tau * n_geopotential
            - tau * self.mean_geopotential * (divergence + previous.divergence)
        )
        vorticity = previous.vorticity + 2 * tau * n_vorticity
        damping = 1.0 / (1.0 + 2 * tau * self._diffusion_rate)  # [m, j]
        return State(vorticity * damping, divergence * damping, geopotential * damping)

    def _add_forcing(
        self, previous: State, n_vorticity: np.ndarray, n_divergence: np.ndarray, n_geo: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        forcing = self.forcing
        relaxation = (forcing.equilibrium_geopotential - previous.geopotential) / (
            forcing.relaxation_time
        )
        relaxation[..., 0, 0] = 0.0  # relaxation never changes the mass
        return (
            n_vorticity - previous.vorticity / forcing.drag_time,
            n_divergence - previous.divergence / forcing.drag_time,
            n_geo + relaxation,
        )

    def time_filter(self, previous: State, current: State, new: State) -> tuple[State, State]:
        """Robert-Asselin-Williams filter: the filtered ``current`` and the adjusted ``new``."""
        strength, alpha = self.filter_strength, self.filter_alpha
        filtered, adjusted = [], []
        for name in ("vorticity", "divergence", "geopotential"):
            before, now, after = (getattr(s, name) for s in (previous, current, new))
            displacement = 0.5 * strength * (before - 2.0 * now + after)
            filtered.append(now + alpha * displacement)
            adjusted.append(after + (alpha - 1.0) * displacement)
        return State(*filtered), State(*adjusted)

    # --- diagnostics ------------------------------------------------------------------------

    def grid_fields(self, state: State) -> dict[str, np.ndarray]:
        """Grid fields ``[member, latitude, longitude]``: depth, height of the free surface (m),
        its geopotential ``z`` (m2 s-2), ``u``, ``v`` (m/s), vorticity and divergence (s-1)."""
        transform = self.transform
        u_p, u_h, v_p, v_h = transform.wind_coefficients(state.vorticity, state.divergence)
        zeros = np.zeros_like(state.vorticity)
        grid = transform.synthesis(
            np.concatenate([state.vorticity, state.divergence, state.geopotential, u_p, v_p]),
            np.concatenate([zeros, zeros, zeros, u_h, v_h]),
        )  # [5 member, latitude, longitude]
        vorticity, divergence, geopotential, u_cos, v_cos = np.split(grid, 5)
        depth = geopotential / GRAVITY
        return {
            "depth": depth,
            "h": depth + self.orography,
            "z": geopotential + GRAVITY * self.orography,
            "u": u_cos / self._cos_latitude,
            "v": v_cos / self._cos_latitude,
            "vorticity": vorticity,
            "divergence": divergence,
        }

    def mass(self, state: State) -> np.ndarray:
        """Global mean depth ``[member]`` in m (proportional to the total mass)."""
        return self.transform.global_mean(self.grid_fields(state)["depth"])

    def energy(self, state: State) -> np.ndarray:
        """Global mean total energy ``[member]`` per unit area and density:
        ``h |V|^2 / 2 + g h^2 / 2 + g h h_s`` (m3 s-2)."""
        fields = self.grid_fields(state)
        depth = fields["depth"]
        kinetic = 0.5 * depth * (fields["u"] ** 2 + fields["v"] ** 2)
        potential = GRAVITY * depth * (0.5 * depth + self.orography)
        return self.transform.global_mean(kinetic + potential)

    def courant_number(self, state: State) -> float:
        """Advective Courant number ``max|V| dt sqrt(T(T+1)) / a`` of the leapfrog step."""
        fields = self.grid_fields(state)
        speed = float(np.sqrt(fields["u"] ** 2 + fields["v"] ** 2).max())
        truncation = self.transform.truncation
        return (
            speed
            * self.time_step
            * np.sqrt(truncation * (truncation + 1.0))
            / (self.transform.radius)
        )

    def check_state(self, state: State, *, what: str = "initial state") -> None:
        """Raise before running if the time step is unstable for ``state`` or the depth < 0."""
        courant = self.courant_number(state)
        if courant >= COURANT_LIMIT:
            fields = self.grid_fields(state)
            speed = float(np.sqrt(fields["u"] ** 2 + fields["v"] ** 2).max())
            stable = self.time_step * COURANT_LIMIT / courant
            raise TimeStepError(
                f"time step {self.time_step:g} s is unstable for the {what}: advective Courant "
                f"number {courant:.2f} >= {COURANT_LIMIT} (max wind {speed:.1f} m/s at "
                f"T{self.transform.truncation}); use a time step below {stable:.0f} s"
            )
        depth = self.grid_fields(state)["depth"]
        if float(depth.min()) <= 0:
            raise MeanDepthError(
                f"the {what} has a fluid depth down to {float(depth.min()):.1f} m: expected a "
                "positive depth everywhere (increase the mean depth or lower the orography)"
            )

    def balanced_geopotential(self, vorticity: np.ndarray, mean_depth: float) -> np.ndarray:
        """Depth geopotential ``[member, m, j]`` in nonlinear balance with a non-divergent flow.

        Solves ``lap(Phi + Phi_s + K) = curl(eta V)`` (the divergence tendency is zero) with the
        model's own transforms, so the balance holds in the discrete model too.
        """
        zeros = np.zeros_like(vorticity)
        _, n_divergence, _ = self.tendencies(State(vorticity, zeros, zeros))
        geopotential = n_divergence * self.transform.inverse_laplacian
        geopotential[..., 0, 0] = GRAVITY * mean_depth * np.sqrt(2.0)  # P_0^0 = 1/sqrt(2)
        return geopotential


class Trajectory:
    """A leapfrog integration in progress: ``advance(steps)`` and the current ``state``."""

    def __init__(
        self, model: ShallowWaterModel, initial: State, *, stirring: Stirring | None = None
    ) -> None:
        self.model = model
        self.stirring = stirring
        self.previous: State | None = None
        self.state = initial
        self.steps = 0

    def advance(self, steps: int) -> State:
        """Integrate ``steps`` time steps and return the new current state."""
        model = self.model
        for _ in range(steps):
            stirring = None
            if self.stirring is not None:
                stirring = self.stirring.pattern if self.steps == 0 else self.stirring.advance()
            if self.previous is None:
                new = model.step(self.state, self.state, first=True, stirring=stirring)
                self.previous, self.state = self.state, new
            else:
                new = model.step(self.previous, self.state, stirring=stirring)
                filtered, new = model.time_filter(self.previous, self.state, new)
                self.previous, self.state = filtered, new
            self.steps += 1
        return self.state
