"""Spherical harmonic transforms on a Gaussian grid (the spectral transform method), in numpy.

A field on the sphere is expanded in orthonormal associated Legendre functions times Fourier
modes with triangular truncation ``T``::

    f(lambda, mu) = sum_{m=-T..T} sum_{n=|m|..T} f_n^m P_n^m(mu) exp(i m lambda),

with ``mu = sin(latitude)`` and ``int_{-1}^{1} P_n^m P_k^m dmu = delta_nk``. Longitude is
handled by the FFT; latitude by Gauss-Legendre quadrature (``numpy.polynomial.legendre.
leggauss``), which is exact for the products of two truncated fields when
``nlat >= (3T + 1) / 2`` and ``nlon >= 3T + 1`` (the alias-free quadratic grid; Orszag 1970,
Machenhauer 1979). ``P_n^m`` come from the stable recurrence
``mu P_n^m = eps_{n+1}^m P_{n+1}^m + eps_n^m P_{n-1}^m``, ``eps_n^m = sqrt((n^2-m^2)/(4n^2-1))``,
and ``H_n^m = (1 - mu^2) dP_n^m/dmu = -n eps_{n+1}^m P_{n+1}^m + (n+1) eps_n^m P_{n-1}^m``
(Hack & Jakob 1992, NCAR/TN-343+STR; Durran 2010, *Numerical Methods for Fluid
Dynamics*, chapter 6).

Wind components are carried as ``U = u cos(lat)`` and ``V = v cos(lat)``, which are smooth at
the poles. The Legendre transform of every zonal wavenumber is one matrix product; all of them
are one batched ``numpy.matmul`` on tables computed once. The equatorial symmetry
``P_n^m(-mu) = (-1)^(n-m) P_n^m(mu)`` halves that work: only the northern half of the grid is
multiplied, once for the symmetric and once for the antisymmetric part (the usual trick of
operational spectral models such as the NCAR STSWM of Hack & Jakob 1992).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wx_datasets.shallow_water.errors import TruncationError

EARTH_RADIUS = 6.37122e6  # m (Williamson et al. 1992)

_STANDARD_GRIDS = {21: (32, 64), 31: (48, 96), 42: (64, 128), 63: (96, 192), 85: (128, 256)}


def default_grid(truncation: int) -> tuple[int, int]:
    """The usual Gaussian grid ``(nlat, nlon)`` for a triangular truncation (T42 -> 64 x 128)."""
    if truncation in _STANDARD_GRIDS:
        return _STANDARD_GRIDS[truncation]
    nlon = 3 * truncation + 1
    while not _has_small_factors(nlon) or nlon % 2:
        nlon += 1
    return nlon // 2, nlon


def _has_small_factors(number: int) -> bool:
    for factor in (2, 3, 5):
        while number % factor == 0:
            number //= factor
    return number == 1


def check_grid(truncation: int, nlat: int, nlon: int) -> None:
    """Raise ``TruncationError`` unless the grid resolves quadratic terms of ``T`` without aliasing."""
    if truncation < 1:
        raise TruncationError(f"truncation {truncation}: expected a positive integer such as 42")
    if nlat % 2:
        raise TruncationError(
            f"a Gaussian grid of {nlat} latitudes: expected an even number (the transforms use "
            "the symmetry of north-south pairs)"
        )
    if 2 * nlat < 3 * truncation + 1 or nlon < 3 * truncation + 1:
        raise TruncationError(
            f"truncation T{truncation} does not fit a {nlat} x {nlon} Gaussian grid: alias-free "
            f"quadratic terms need nlat >= (3T+1)/2 = {(3 * truncation + 1) / 2:g} and "
            f"nlon >= 3T+1 = {3 * truncation + 1} (e.g. {default_grid(truncation)})"
        )


def legendre_tables(truncation: int, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``P_n^m(mu)`` and ``H_n^m(mu)``, both ``[m, n, latitude]`` (zero for n < m)."""
    size = truncation + 1
    p = np.zeros((size, size + 1, mu.size))  # [m, n up to T+1, latitude]
    cos_lat = np.sqrt(1.0 - mu**2)
    p_mm = np.full(mu.size, np.sqrt(0.5))
    for m in range(size):
        if m > 0:
            p_mm = p_mm * np.sqrt((2 * m + 1) / (2 * m)) * cos_lat
        p[m, m] = p_mm
        if m + 1 <= size:
            p[m, m + 1] = np.sqrt(2 * m + 3) * mu * p_mm
        for n in range(m + 2, size + 1):
            p[m, n] = (mu * p[m, n - 1] - epsilon(n - 1, m) * p[m, n - 2]) / epsilon(n, m)
    h = np.zeros((size, size, mu.size))  # [m, n, latitude]
    for m in range(size):
        for n in range(m, size):
            h[m, n] = -n * epsilon(n + 1, m) * p[m, n + 1]
            if n > m:
                h[m, n] += (n + 1) * epsilon(n, m) * p[m, n - 1]
    return p[:, :size], h


def epsilon(n: int, m: int) -> float:
    """The recurrence coefficient ``eps_n^m = sqrt((n^2 - m^2) / (4 n^2 - 1))``."""
    return float(np.sqrt((n * n - m * m) / (4.0 * n * n - 1.0))) if n > 0 else 0.0


def _parity_tables(p: np.ndarray, h: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Legendre matrices ``[2m, 2 slot, latitude]`` for the symmetric and antisymmetric parts.

    Rows ``m`` (part 0, symmetric): ``P`` at ``n = m + 2k`` then ``H`` at ``n = m + 2k + 1``;
    rows ``T+1+m`` (part 1, antisymmetric): ``P`` at ``n = m + 2k + 1`` then ``H`` at
    ``n = m + 2k``; zero where ``n > T``.
    """
    size = p.shape[0]
    tables = np.zeros((2 * size, 2 * slots, p.shape[-1]))
    for m in range(size):
        for k in range(slots):
            for part, (p_degree, h_degree) in enumerate(
                ((m + 2 * k, m + 2 * k + 1), (m + 2 * k + 1, m + 2 * k))
            ):
                if p_degree < size:
                    tables[part * size + m, k] = p[m, p_degree]
                if h_degree < size:
                    tables[part * size + m, slots + k] = h[m, h_degree]
    return tables[:size], tables[size:]


@dataclass(frozen=True)
class SpectralTransform:
    """Transforms between a ``[..., latitude, longitude]`` grid and ``[..., m, j]`` coefficients.

    Coefficients are stored by zonal wavenumber ``m`` and ``j = n - m`` (the total wavenumber is
    ``degree[m, j] = m + j``), with ``2 * slots`` columns so the even and odd ``j`` split evenly;
    entries with ``n > T`` are zero. Real fields keep ``m >= 0`` only (the negative ones are
    conjugates). Latitudes run north to south.
    """

    truncation: int
    nlat: int
    nlon: int
    radius: float = EARTH_RADIUS
    mu: np.ndarray = field(init=False, repr=False)  # [latitude] sin(latitude), north to south
    weights: np.ndarray = field(init=False, repr=False)  # [latitude] Gauss weights, sum 2
    degree: np.ndarray = field(init=False, repr=False)  # [m, j] total wavenumber n = m + j
    valid: np.ndarray = field(init=False, repr=False)  # [m, j] n <= T
    laplacian: np.ndarray = field(init=False, repr=False)  # [m, j] eigenvalue -n(n+1)/a^2
    inverse_laplacian: np.ndarray = field(init=False, repr=False)  # [m, j], 0 for n = 0 or > T
    wavenumber: np.ndarray = field(init=False, repr=False)  # [m, 1] i*m as complex
    _synthesis: np.ndarray = field(init=False, repr=False)  # [2m, north latitude, 2 slot]
    _analysis: np.ndarray = field(init=False, repr=False)  # [2m, 2 slot, north latitude]

    def __post_init__(self) -> None:
        check_grid(self.truncation, self.nlat, self.nlon)
        nodes, weights = np.polynomial.legendre.leggauss(self.nlat)
        mu = nodes[::-1].copy()  # north to south
        weights = weights[::-1].copy()
        half, size, slots = self.nlat // 2, self.truncation + 1, (self.truncation + 2) // 2
        p, h = legendre_tables(self.truncation, mu[:half])  # northern half, [m, n, latitude]
        symmetric, antisymmetric = _parity_tables(p, h, slots)
        tables = np.concatenate([symmetric, antisymmetric])  # [2m, 2 slot, north latitude]
        degree = np.arange(size)[:, None] + np.arange(2 * slots)[None, :]  # [m, j]
        valid = degree <= self.truncation
        laplacian = np.where(valid, -degree * (degree + 1.0) / self.radius**2, 0.0)
        inverse = np.divide(1.0, laplacian, out=np.zeros_like(laplacian), where=laplacian != 0)
        values = {
            "mu": mu,
            "weights": weights,
            "degree": degree,
            "valid": valid,
            "laplacian": laplacian,
            "inverse_laplacian": inverse,
            "wavenumber": 1j * np.arange(size)[:, None].astype(complex),
            # the FFT normalisation is folded into the tables: nlon here, 1/nlon below
            "_synthesis": np.ascontiguousarray(tables.transpose(0, 2, 1) * self.nlon),
            "_analysis": np.ascontiguousarray(tables * (weights[:half] / self.nlon)),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def shape(self) -> tuple[int, int]:
        """The spectral array shape ``(m, j)``."""
        return self.degree.shape

    @property
    def latitudes(self) -> np.ndarray:
        """Gaussian latitudes in degrees, north to south."""
        return np.degrees(np.arcsin(self.mu))

    @property
    def longitudes(self) -> np.ndarray:
        """Longitudes in degrees from 0 (inclusive) to 360 (exclusive)."""
        return np.arange(self.nlon) * (360.0 / self.nlon)

    def from_degree_order(self, coefficients: np.ndarray) -> np.ndarray:
        """``[..., m, n]`` coefficients (zeros for n < m) in this ``[..., m, j]`` storage."""
        m = np.arange(self.truncation + 1)[:, None]
        degree = np.minimum(self.degree, self.truncation)
        return np.where(self.valid, coefficients[..., m, degree], 0.0)

    def to_degree_order(self, coefficients: np.ndarray) -> np.ndarray:
        """``[..., m, j]`` coefficients as ``[..., m, n]`` (zeros for n < m)."""
        size = self.truncation + 1
        result = np.zeros((*coefficients.shape[:-2], size, size), dtype=coefficients.dtype)
        m, j = np.nonzero(self.valid)
        result[..., m, m + j] = coefficients[..., m, j]
        return result

    def synthesis(self, p_coefficients: np.ndarray, h_coefficients: np.ndarray) -> np.ndarray:
        """Grid values of ``sum_n (c_P P_n^m + c_H H_n^m) e^{im lambda}`` for ``[batch, m, j]`` inputs.

        Returns ``[batch, latitude, longitude]``. Pass zeros for ``h_coefficients`` to synthesise
        a scalar field.
        """
        batch, size, half = p_coefficients.shape[0], self.truncation + 1, self.nlat // 2
        slots = self.shape[1] // 2
        columns = np.empty((2, size, 2, slots, batch), dtype=np.complex128)
        columns[0, :, 0] = p_coefficients[..., 0::2].transpose(1, 2, 0)  # symmetric part
        columns[0, :, 1] = h_coefficients[..., 1::2].transpose(1, 2, 0)
        columns[1, :, 0] = p_coefficients[..., 1::2].transpose(1, 2, 0)  # antisymmetric part
        columns[1, :, 1] = h_coefficients[..., 0::2].transpose(1, 2, 0)
        columns = columns.reshape(2 * size, 2 * slots, batch)  # [2m, 2 slot, batch]
        parts = self._synthesis @ columns.view(np.float64)  # [2m, north latitude, 2 batch]
        parts = parts.view(np.complex128)  # [2m, north latitude, batch]
        symmetric, antisymmetric = parts[:size], parts[size:]
        fourier = np.zeros((batch, self.nlat, self.nlon // 2 + 1), dtype=np.complex128)
        fourier[:, :half, :size] = (symmetric + antisymmetric).transpose(2, 1, 0)
        fourier[:, half:, :size] = (symmetric - antisymmetric)[:, ::-1].transpose(2, 1, 0)
        return np.fft.irfft(fourier, n=self.nlon, axis=-1)

    def analysis(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projections ``(sum_j w_j F_m P_n^m, sum_j w_j F_m H_n^m)`` of a ``[batch, lat, lon]`` grid.

        Each is ``[batch, m, j]``; the first is the spectral transform of the field.
        """
        batch, size, half = grid.shape[0], self.truncation + 1, self.nlat // 2
        slots = self.shape[1] // 2
        fourier = np.fft.rfft(grid, axis=-1)  # [batch, latitude, m]
        north, south = fourier[:, :half, :size], fourier[:, : half - 1 : -1, :size]
        columns = np.empty((2 * size, half, batch), dtype=np.complex128)  # [2m, latitude, batch]
        np.add(north, south, out=columns[:size].transpose(2, 1, 0))
        np.subtract(north, south, out=columns[size:].transpose(2, 1, 0))
        projected = self._analysis @ columns.view(np.float64)  # [2m, 2 slot, 2 batch]
        projected = projected.view(np.complex128).reshape(2, size, 2, slots, batch)
        p = np.empty((batch, size, 2 * slots), dtype=np.complex128)
        h = np.empty((batch, size, 2 * slots), dtype=np.complex128)
        p[..., 0::2] = projected[0, :, 0].transpose(2, 0, 1)
        h[..., 1::2] = projected[0, :, 1].transpose(2, 0, 1)
        p[..., 1::2] = projected[1, :, 0].transpose(2, 0, 1)
        h[..., 0::2] = projected[1, :, 1].transpose(2, 0, 1)
        return p, h

    def to_grid(self, coefficients: np.ndarray) -> np.ndarray:
        """Scalar synthesis: ``[..., m, j]`` coefficients to a ``[..., latitude, longitude]`` grid."""
        lead = coefficients.shape[:-2]
        flat = coefficients.reshape(-1, *self.shape)  # [batch, m, j]
        grid = self.synthesis(flat, np.zeros_like(flat))
        return grid.reshape(*lead, self.nlat, self.nlon)

    def to_spectral(self, grid: np.ndarray) -> np.ndarray:
        """Scalar analysis: a ``[..., latitude, longitude]`` grid to ``[..., m, j]`` coefficients."""
        lead = grid.shape[:-2]
        flat = grid.reshape(-1, self.nlat, self.nlon)  # [batch, latitude, longitude]
        return self.analysis(flat)[0].reshape(*lead, *self.shape)

    def wind_coefficients(
        self, vorticity: np.ndarray, divergence: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """P- and H-coefficients of ``U`` and ``V`` from ``[batch, m, j]`` vorticity and divergence.

        ``U = (im chi - (1-mu^2) dpsi/dmu) / a`` and ``V = (im psi + (1-mu^2) dchi/dmu) / a``
        with ``psi``, ``chi`` the inverse Laplacians of vorticity and divergence.
        """
        streamfunction = vorticity * self.inverse_laplacian / self.radius
        potential = divergence * self.inverse_laplacian / self.radius
        u_p, u_h = self.wavenumber * potential, -streamfunction
        v_p, v_h = self.wavenumber * streamfunction, potential
        return u_p, u_h, v_p, v_h

    def winds(self, vorticity: np.ndarray, divergence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid ``(u, v)`` in m/s from ``[batch, m, j]`` vorticity and divergence coefficients."""
        u_p, u_h, v_p, v_h = self.wind_coefficients(vorticity, divergence)
        grid = self.synthesis(np.concatenate([u_p, v_p]), np.concatenate([u_h, v_h]))
        cos_lat = np.sqrt(1.0 - self.mu**2)[:, None]
        batch = vorticity.shape[0]
        return grid[:batch] / cos_lat, grid[batch:] / cos_lat

    def vorticity_divergence(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectral ``(vorticity, divergence)`` of grid winds ``[batch, latitude, longitude]``."""
        scale = (1.0 / (self.radius * np.sqrt(1.0 - self.mu**2)))[:, None]
        batch = u.shape[0]
        p, h = self.analysis(np.concatenate([u * scale, v * scale]))
        vorticity = self.wavenumber * p[batch:] + h[:batch]
        divergence = self.wavenumber * p[:batch] - h[batch:]
        return vorticity, divergence

    def global_mean(self, grid: np.ndarray) -> np.ndarray:
        """Area mean over the sphere of ``[..., latitude, longitude]`` fields (exact quadrature)."""
        return np.einsum("...ji,j->...", grid, self.weights) / (2.0 * self.nlon)
