"""Spherical harmonic transforms: orthonormality, exact round trips, winds, grid checks."""

from __future__ import annotations

import numpy as np
import pytest

from wx_datasets.shallow_water.errors import TruncationError
from wx_datasets.shallow_water.initial import random_coefficients
from wx_datasets.shallow_water.spectral import (
    SpectralTransform,
    check_grid,
    default_grid,
    legendre_tables,
)


@pytest.fixture(scope="module")
def transform() -> SpectralTransform:
    return SpectralTransform(truncation=21, nlat=32, nlon=64)


def _random_field(transform: SpectralTransform, seed: int) -> np.ndarray:
    coefficients = random_coefficients(
        np.random.default_rng(seed), transform, np.ones(transform.truncation + 1)
    )
    return coefficients


def test_legendre_functions_are_orthonormal_under_gauss_quadrature(transform):
    p, _ = legendre_tables(transform.truncation, transform.mu)  # [m, n, latitude]
    gram = np.einsum("mnj,mkj,j->mnk", p, p, transform.weights)
    m, n = np.meshgrid(np.arange(22), np.arange(22), indexing="ij")  # degree order
    expected = np.zeros_like(gram)
    for order in range(22):
        for degree in range(order, 22):
            expected[order, degree, degree] = 1.0
    assert np.abs(gram - expected).max() < 1e-13
    assert np.all(p[n < m] == 0)


@pytest.mark.parametrize(
    ("truncation", "nlat", "nlon"), [(21, 32, 64), (42, 64, 128), (10, 18, 40)]
)
def test_round_trip_of_a_band_limited_field_is_exact(truncation, nlat, nlon):
    transform = SpectralTransform(truncation=truncation, nlat=nlat, nlon=nlon)
    coefficients = _random_field(transform, seed=truncation)
    grid = transform.to_grid(coefficients)
    scale = np.abs(grid).max()
    assert np.abs(transform.to_spectral(grid) - coefficients).max() < 1e-12 * scale
    assert np.abs(transform.to_grid(transform.to_spectral(grid)) - grid).max() < 1e-12 * scale


def test_spherical_harmonic_matches_its_closed_form(transform):
    """Y_2^0 = sqrt(5/8) (3 mu^2 - 1) with the orthonormal convention, mean 0, variance 1/2."""
    mu = transform.mu[:, None] * np.ones((1, transform.nlon))
    coefficients = transform.to_spectral(np.sqrt(5 / 8) * (3 * mu**2 - 1))
    expected = np.zeros(transform.shape, dtype=complex)
    expected[0, 2] = 1.0
    assert np.abs(coefficients - expected).max() < 1e-14
    assert transform.global_mean(np.ones((transform.nlat, transform.nlon))) == pytest.approx(1.0)


def test_solid_body_rotation_winds(transform):
    """Vorticity 2 u0 sin(lat) / a is the wind u = u0 cos(lat), v = 0."""
    u0 = 30.0
    mu = transform.mu[:, None] * np.ones((1, transform.nlon))
    vorticity = transform.to_spectral(2 * u0 * mu / transform.radius)[None]
    u, v = transform.winds(vorticity, np.zeros_like(vorticity))
    assert np.abs(u[0] - u0 * np.sqrt(1 - mu**2)).max() < 1e-10
    assert np.abs(v[0]).max() < 1e-10


def test_winds_and_vorticity_divergence_are_inverse(transform):
    vorticity = _random_field(transform, 1)[None] * 1e-5
    divergence = _random_field(transform, 2)[None] * 1e-6
    vorticity[..., 0, 0] = divergence[..., 0, 0] = 0.0  # no mean: not a wind
    u, v = transform.winds(vorticity, divergence)
    back_vorticity, back_divergence = transform.vorticity_divergence(u, v)
    assert np.abs(back_vorticity - vorticity).max() < 1e-12 * np.abs(vorticity).max() * 1e3
    assert np.abs(back_divergence - divergence).max() < 1e-12 * np.abs(divergence).max() * 1e3


def test_grids_north_to_south_and_longitudes_from_zero():
    transform = SpectralTransform(truncation=42, nlat=64, nlon=128)
    assert np.all(np.diff(transform.latitudes) < 0)
    assert transform.latitudes[0] == pytest.approx(-transform.latitudes[-1])
    assert transform.longitudes[0] == 0.0 and transform.longitudes[-1] == pytest.approx(357.1875)


def test_default_grids_fit_their_truncation():
    assert default_grid(42) == (64, 128)
    assert default_grid(85) == (128, 256)
    for truncation in (5, 21, 30, 63, 100, 106, 170):
        nlat, nlon = default_grid(truncation)
        check_grid(truncation, nlat, nlon)  # no error
        assert nlat * 2 == nlon


@pytest.mark.parametrize(
    ("truncation", "nlat", "nlon", "message"),
    [
        (42, 32, 128, r"nlat >= \(3T\+1\)/2 = 63.5"),
        (42, 64, 120, r"nlon >= 3T\+1 = 127"),
        (21, 33, 64, "expected an even number"),
        (0, 32, 64, "expected a positive integer"),
    ],
)
def test_truncation_that_does_not_fit_the_grid(truncation, nlat, nlon, message):
    with pytest.raises(TruncationError, match=message):
        SpectralTransform(truncation=truncation, nlat=nlat, nlon=nlon)
