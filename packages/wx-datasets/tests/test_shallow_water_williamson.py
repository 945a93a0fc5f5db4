"""The model against Williamson et al. (1992) test cases 2, 5 and 6, and its conservation laws."""

from __future__ import annotations

import numpy as np
import pytest

from wx_datasets.shallow_water import initial
from wx_datasets.shallow_water.model import ShallowWaterModel, Trajectory
from wx_datasets.shallow_water.spectral import SpectralTransform

DAY = 86400.0


@pytest.fixture(scope="module")
def t21() -> SpectralTransform:
    return SpectralTransform(truncation=21, nlat=32, nlon=64)


def _relative_l2(transform, field, reference) -> float:
    error = transform.global_mean((field - reference) ** 2)
    return float(np.sqrt(error / transform.global_mean(reference**2)))


@pytest.mark.parametrize("alpha", [0.0, np.pi / 4])
def test_case2_steady_zonal_flow_holds_for_five_days(t21, alpha):
    vorticity, depth, reference_depth = initial.williamson_case2(t21, alpha=alpha)
    model = ShallowWaterModel(
        transform=t21,
        time_step=3600.0,
        mean_depth=reference_depth,
        coriolis=initial.rotated_coriolis(t21, alpha=alpha),
    )
    trajectory = Trajectory(model, initial.state_from_fields(vorticity, depth, t21))
    trajectory.advance(int(5 * DAY / 3600))
    height = model.grid_fields(trajectory.state)["h"][0]
    assert _relative_l2(t21, height, depth) < 1e-3
    assert _relative_l2(t21, height, depth) > 0  # it did integrate


def _rossby_haurwitz_run(transform, *, extra_depth: float, time_step: float):
    vorticity, depth = initial.williamson_case6(transform)
    model = ShallowWaterModel(
        transform=transform, time_step=time_step, mean_depth=8000.0 + extra_depth
    )
    start = initial.state_from_fields(vorticity, depth + extra_depth, transform)
    trajectory = Trajectory(model, start)
    trajectory.advance(int(5 * DAY / time_step))
    return model.grid_fields(start)["h"][0], model.grid_fields(trajectory.state)["h"][0]


def _eastward_shift(transform, before, after) -> float:
    """Longitude shift (rad, in [0, pi/2)) of the wavenumber-4 pattern from its Fourier phase."""
    first = np.fft.rfft(before, axis=1)[:, 4]
    second = np.fft.rfft(after, axis=1)[:, 4]
    phase = np.angle(np.sum(second * np.conj(first) * transform.weights))
    return float((-phase / 4) % (np.pi / 2))


def _pattern_correlation(transform, before, after, shift) -> float:
    m = np.arange(transform.truncation + 1)[:, None]
    moved = transform.to_grid(transform.to_spectral(before) * np.exp(-1j * m * shift))
    first = moved - transform.global_mean(moved)
    second = after - transform.global_mean(after)
    covariance = transform.global_mean(first * second)
    return float(
        covariance / np.sqrt(transform.global_mean(first**2) * transform.global_mean(second**2))
    )


def test_case6_rossby_haurwitz_wave_keeps_its_shape_and_speed():
    """Wave 4 after 5 days at T31: same pattern, moved east near the analytic speed.

    The analytic ``nu = (R(3+R) w - 2 Omega) / ((1+R)(2+R))`` (12.2 degrees/day) is exact for
    the non-divergent (barotropic vorticity) equation; the free surface of the 8 km layer
    slows the shallow-water wave by about 7%, independent of resolution (T21, T31 and T42 give
    0.925-0.929 of it), so this standard case is held to 10% here and the same wave on a very
    deep, nearly non-divergent layer is held to 1% of the formula below.
    """
    transform = SpectralTransform(truncation=31, nlat=48, nlon=96)
    before, after = _rossby_haurwitz_run(transform, extra_depth=0.0, time_step=1800.0)
    analytic = initial.rossby_haurwitz_phase_speed() * 5 * DAY
    assert np.degrees(analytic) == pytest.approx(60.98, abs=0.01)
    shift = _eastward_shift(transform, before, after)
    assert 0.90 < shift / analytic < 0.96
    assert _pattern_correlation(transform, before, after, shift) > 0.985


def test_case6_on_a_deep_layer_moves_at_the_analytic_phase_speed(t21):
    before, after = _rossby_haurwitz_run(t21, extra_depth=1.0e6, time_step=1800.0)
    analytic = initial.rossby_haurwitz_phase_speed() * 5 * DAY
    shift = _eastward_shift(t21, before, after)
    assert shift / analytic == pytest.approx(1.0, abs=0.01)
    assert _pattern_correlation(t21, before, after, shift) > 0.999


def test_mass_is_conserved_over_ten_days_with_orography(t21):
    """Case 5 (flow over an isolated mountain), hyperdiffusion on: mass to 1e-10."""
    vorticity, depth, orography = initial.williamson_case5(t21)
    model = ShallowWaterModel(
        transform=t21, time_step=1800.0, mean_depth=5960.0, orography=orography
    )
    start = initial.state_from_fields(vorticity, depth, t21)
    trajectory = Trajectory(model, start)
    trajectory.advance(int(10 * DAY / 1800))
    before, after = model.mass(start)[0], model.mass(trajectory.state)[0]
    assert abs(after - before) / before < 1e-10
    change = model.grid_fields(trajectory.state)["h"][0] - model.grid_fields(start)["h"][0]
    assert np.abs(change).max() > 10.0  # the mountain really disturbed the flow


def test_energy_is_conserved_over_ten_days_without_hyperdiffusion(t21):
    """A random balanced turbulent state, no diffusion or forcing: energy to 0.1%."""
    model = ShallowWaterModel(
        transform=t21, time_step=1800.0, mean_depth=8000.0, diffusion_time=None
    )
    start = initial.random_balanced_state(model, [3], mean_depth=8000.0, rms_wind=20.0)
    trajectory = Trajectory(model, start)
    trajectory.advance(int(10 * DAY / 1800))
    before, after = model.energy(start)[0], model.energy(trajectory.state)[0]
    kinetic = 0.5 * 8000.0 * 20.0**2  # the part of the energy that moves (m3 s-2)
    assert abs(after - before) / before < 1e-3
    assert abs(after - before) / kinetic < 1e-2  # also small against the kinetic energy
    vorticity_change = trajectory.state.vorticity - start.vorticity
    assert np.abs(vorticity_change).max() > 0.5 * np.abs(start.vorticity).max()  # it evolved


def test_balanced_initial_state_has_no_divergence_tendency(t21):
    model = ShallowWaterModel(transform=t21, time_step=1800.0, mean_depth=8000.0)
    state = initial.random_balanced_state(model, [5, 6], mean_depth=8000.0)
    _, divergence_tendency, _ = model.tendencies(state)
    gravity = -t21.laplacian * state.geopotential  # the implicit -lap(Phi) term
    residual = divergence_tendency + gravity
    assert np.abs(residual).max() < 1e-9 * np.abs(gravity).max()
    assert model.mass(state) == pytest.approx([8000.0, 8000.0], rel=1e-12)
