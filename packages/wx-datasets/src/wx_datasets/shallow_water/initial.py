"""Initial states: seeded random balanced flows, orography, and the Williamson et al. test cases.

Random states follow the usual recipe for balanced turbulence on the sphere: a streamfunction
with random phases and a kinetic-energy spectrum ``E(n) ~ (n/n0)^3 / (1 + (n/n0)^2)^3``
(peak at ``n0``, ``n^-3`` tail like the atmosphere's enstrophy range; Boer & Shepherd 1983),
zero divergence, and the depth from the nonlinear balance equation
``lap(Phi + Phi_s + K) = curl(eta V)`` so no large gravity waves are launched.

Test cases of Williamson, Drake, Hack, Jakob & Swarztrauber (1992), J. Comput. Phys. 102,
211-224: case 2 (steady geostrophic zonal flow, optionally rotated by ``alpha``), case 5 (zonal
flow over an isolated conical mountain) and case 6 (Rossby-Haurwitz wave of wavenumber 4).
"""

from __future__ import annotations

import numpy as np

from wx_datasets.shallow_water.model import GRAVITY, ROTATION, ShallowWaterModel, State
from wx_datasets.shallow_water.spectral import SpectralTransform

_DRAW_SIZE = 64  # random coefficients are drawn for n < 64 whatever T, so T <= 63 share scales
DAY = 86400.0


def _grid_coordinates(transform: SpectralTransform) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude in radians, each ``[latitude, longitude]``."""
    latitude = np.arcsin(transform.mu)[:, None] * np.ones((1, transform.nlon))
    longitude = np.radians(transform.longitudes)[None, :] * np.ones((transform.nlat, 1))
    return latitude, longitude


def random_coefficients(
    rng: np.random.Generator, transform: SpectralTransform, variance: np.ndarray
) -> np.ndarray:
    """Isotropic random coefficients ``[m, j]`` with variance ``variance[n]`` per real harmonic.

    ``m > 0`` coefficients stand for the ``+-m`` pair, so their real and imaginary parts carry
    half the variance of the real ``m = 0`` one.
    """
    size = max(_DRAW_SIZE, transform.truncation + 1)
    real = rng.standard_normal((size, size))  # [m, n]
    imaginary = rng.standard_normal((size, size))  # [m, n]
    keep = transform.truncation + 1
    coefficients = (real[:keep, :keep] + 1j * imaginary[:keep, :keep]) / np.sqrt(2.0)
    coefficients[0] = real[0, :keep]
    m, n = np.meshgrid(np.arange(keep), np.arange(keep), indexing="ij")
    coefficients[n < m] = 0.0
    return transform.from_degree_order(coefficients * np.sqrt(variance)[None, :])


def random_vorticity(
    transform: SpectralTransform,
    rng: np.random.Generator,
    *,
    peak_wavenumber: float,
    rms_wind: float,
) -> np.ndarray:
    """Random non-divergent vorticity ``[m, j]`` with the spectrum above and this RMS wind."""
    n = np.arange(transform.truncation + 1, dtype=float)
    ratio = n / peak_wavenumber
    energy = ratio**3 / (1.0 + ratio**2) ** 3  # E(n), kinetic energy per total wavenumber
    # E(n) = n(n+1)/a^2 * sum_m |psi_nm|^2 / 2 over 2n+1 real harmonics, zeta = -n(n+1)/a^2 psi
    variance = np.zeros_like(n)
    variance[1:] = 2.0 * energy[1:] * n[1:] * (n[1:] + 1.0) / (2.0 * n[1:] + 1.0)
    vorticity = random_coefficients(rng, transform, variance)
    u, v = transform.winds(vorticity[None], np.zeros_like(vorticity)[None])
    rms = np.sqrt(transform.global_mean(u**2 + v**2)[0])
    return vorticity * (rms_wind / rms)


def random_balanced_state(
    model: ShallowWaterModel,
    seeds: list[int],
    *,
    mean_depth: float,
    peak_wavenumber: float = 8.0,
    rms_wind: float = 20.0,
) -> State:
    """One random balanced state per seed (a batch of members), zero divergence."""
    transform = model.transform
    vorticity = np.stack(
        [
            random_vorticity(
                transform,
                np.random.default_rng(seed),
                peak_wavenumber=peak_wavenumber,
                rms_wind=rms_wind,
            )
            for seed in seeds
        ]
    )  # [member, m, j]
    geopotential = model.balanced_geopotential(vorticity, mean_depth)
    return State(vorticity, np.zeros_like(vorticity), geopotential)


def random_orography(
    transform: SpectralTransform, seed: int, *, max_height: float = 2500.0, peak_wavenumber=5.0
) -> np.ndarray:
    """Smooth seeded mountains ``[latitude, longitude]`` in m, from 0 to about ``max_height``.

    A random field with a red spectrum is rescaled to [0, 1], squared (few high peaks, wide low
    plains) and truncated to ``T`` so the model represents it exactly.
    """
    rng = np.random.default_rng([seed, 0x6F726F])  # a stream apart from the initial states
    n = np.arange(transform.truncation + 1, dtype=float)
    variance = np.exp(-((n / peak_wavenumber) ** 2))
    variance[0] = 0.0
    field = transform.to_grid(random_coefficients(rng, transform, variance))
    scaled = ((field - field.min()) / (field.max() - field.min())) ** 2
    return transform.to_grid(transform.to_spectral(max_height * scaled))


def isolated_mountain(
    transform: SpectralTransform, *, height: float = 2000.0, radius: float = np.pi / 9
) -> np.ndarray:
    """Williamson case 5 mountain ``[latitude, longitude]`` in m, centred at 30N 90W.

    ``h_s = h_s0 (1 - r / R)`` with ``r = min(R, sqrt((lon - lon_c)^2 + (lat - lat_c)^2))``.
    """
    latitude, longitude = _grid_coordinates(transform)
    distance = np.sqrt((longitude - 1.5 * np.pi) ** 2 + (latitude - np.pi / 6) ** 2)
    return height * (1.0 - np.minimum(radius, distance) / radius)


def williamson_case2(
    transform: SpectralTransform, *, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Case 2: ``(vorticity [m, j], depth [latitude, longitude] in m, mean reference depth)``.

    ``u0 = 2 pi a / 12 days``, ``g h0 = 2.94e4 m2 s-2``. Use :func:`rotated_coriolis` with the
    same ``alpha`` for the model's Coriolis parameter, as the case prescribes.
    """
    u0 = 2 * np.pi * transform.radius / (12 * DAY)
    rotated_sine = rotated_coriolis(transform, alpha=alpha) / (2 * ROTATION)
    vorticity_grid = 2 * u0 / transform.radius * rotated_sine
    geopotential = 2.94e4 - (transform.radius * ROTATION * u0 + 0.5 * u0**2) * rotated_sine**2
    depth = geopotential / GRAVITY
    return transform.to_spectral(vorticity_grid), depth, 2.94e4 / GRAVITY


def rotated_coriolis(transform: SpectralTransform, *, alpha: float) -> np.ndarray:
    """``f = 2 Omega (-cos(lon) cos(lat) sin(alpha) + sin(lat) cos(alpha))`` on the grid."""
    latitude, longitude = _grid_coordinates(transform)
    return (
        2
        * ROTATION
        * (-np.cos(longitude) * np.cos(latitude) * np.sin(alpha) + np.sin(latitude) * np.cos(alpha))
    )


def williamson_case5(transform: SpectralTransform) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case 5: ``(vorticity [m, j], depth [lat, lon] m, orography [lat, lon] m)``.

    Zonal flow ``u0 = 20 m/s`` in balance with a free surface ``h0 = 5960 m`` over the mountain.
    """
    u0, h0 = 20.0, 5960.0
    latitude, _ = _grid_coordinates(transform)
    vorticity_grid = 2 * u0 / transform.radius * np.sin(latitude)
    surface = h0 - (transform.radius * ROTATION * u0 + 0.5 * u0**2) * np.sin(latitude) ** 2 / (
        GRAVITY
    )
    orography = isolated_mountain(transform)
    return transform.to_spectral(vorticity_grid), surface - orography, orography


def williamson_case6(transform: SpectralTransform) -> tuple[np.ndarray, np.ndarray]:
    """Case 6, Rossby-Haurwitz wave 4: ``(vorticity [m, j], depth [latitude, longitude] in m)``.

    ``psi = -a^2 w sin(lat) + a^2 K cos^R(lat) sin(lat) cos(R lon)``, ``w = K = 7.848e-6 s-1``,
    ``R = 4``, ``h0 = 8000 m``; the depth is the balanced one given in the paper.
    """
    omega = wave = 7.848e-6
    order, radius = 4, transform.radius
    latitude, longitude = _grid_coordinates(transform)
    cos, sin = np.cos(latitude), np.sin(latitude)
    streamfunction = radius**2 * (
        -omega * sin + wave * cos**order * sin * np.cos(order * longitude)
    )
    vorticity = transform.laplacian * transform.to_spectral(streamfunction)
    r = order
    a_term = 0.5 * omega * (2 * ROTATION + omega) * cos**2 + 0.25 * wave**2 * cos ** (2 * r) * (
        (r + 1) * cos**2 + (2 * r * r - r - 2) - 2 * r * r * cos**-2
    )
    b_term = (
        2
        * (ROTATION + omega)
        * wave
        / ((r + 1) * (r + 2))
        * cos**r
        * ((r * r + 2 * r + 2) - (r + 1) ** 2 * cos**2)
    )
    c_term = 0.25 * wave**2 * cos ** (2 * r) * ((r + 1) * cos**2 - (r + 2))
    geopotential = GRAVITY * 8000.0 + radius**2 * (
        a_term + b_term * np.cos(r * longitude) + c_term * np.cos(2 * r * longitude)
    )
    return vorticity, geopotential / GRAVITY


def rossby_haurwitz_phase_speed(order: int = 4, omega: float = 7.848e-6) -> float:
    """Analytic angular phase speed (rad/s, eastward) of the non-divergent R-H wave:
    ``nu = (R (3 + R) omega - 2 Omega) / ((1 + R)(2 + R))``."""
    return (order * (3 + order) * omega - 2 * ROTATION) / ((1 + order) * (2 + order))


def state_from_fields(vorticity: np.ndarray, depth: np.ndarray, transform) -> State:
    """A one-member ``State`` from spectral vorticity ``[m, j]`` and grid depth ``[lat, lon]``."""
    geopotential = transform.to_spectral(GRAVITY * depth)
    return State(vorticity[None], np.zeros_like(vorticity)[None], geopotential[None])


def equilibrium_surface(
    transform: SpectralTransform,
    *,
    mean_height: float,
    contrast: float = 600.0,
    jet_latitude: float = 45.0,
    width: float = 9.0,
) -> np.ndarray:
    """Zonal "radiative equilibrium" free-surface height ``[latitude, longitude]`` in m.

    Deep in the tropics and shallow near the poles, with the drop of ``contrast`` metres
    concentrated around ``+-jet_latitude`` over ``width`` degrees, so that geostrophic balance
    gives one mid-latitude jet per hemisphere (about 30 m/s for the defaults) that is
    barotropically unstable and sheds Rossby waves and vortices.
    """
    latitude, _ = _grid_coordinates(transform)
    centre, scale = np.radians(jet_latitude), np.radians(width)
    polar = 1.0 + 0.5 * (
        np.tanh((latitude - centre) / scale) + np.tanh((-latitude - centre) / scale)
    )
    return mean_height + contrast * (0.5 - polar)
