"""The ``shallow-water`` dataset source: simulated global states sampled at the recipe's dates.

``open_source(options, dates=...)`` builds the model of :mod:`.model` on a Gaussian grid,
draws one random balanced initial state per member (seeds ``seed + i``; the orography, shared
by all members, from ``seed``), integrates through a spin-up that is thrown away, and then
samples the requested fields at each date (the simulation clock starts at ``dates[0]`` minus
the spin-up; the flow has no calendar, so the dates only set the spacing). Pass the recipe's
full date list: the trajectory is defined from ``dates[0]``, so a subset starting later gives
a different (equally valid) trajectory.

Recipe input (``input: {type: shallow-water, ...}``; the recipe layer strips ``type`` and
``rename`` before calling ``open_source``); every key is optional::

    truncation: 42          # triangular truncation T; grid nlat x nlon defaults to e.g. 64 x 128
    nlat: 64                # Gaussian latitudes, >= (3T+1)/2
    nlon: 128               # longitudes, >= 3T+1
    members: 1              # independent trajectories (ensemble members)
    seed: 0
    spin_up_days: 60        # simulated days discarded before the first date
    mean_depth: 8000        # m, > 0
    orography: random       # random | mountain (Williamson case 5) | none  (or true / false)
    orography_height: 2500  # m, the highest peak
    forcing: true           # relaxation + drag + stirring keep the flow statistically steady
    relaxation_days: 10     # free-surface relaxation towards the zonal equilibrium profile
    drag_days: 20           # linear drag on vorticity and divergence
    stirring: 8.0e-11       # s-2, RMS of the red-noise vorticity stirring (0 for none)
    time_step: 30min        # default from T; must divide the date spacing
    rms_wind: 20            # m/s, initial RMS wind
    peak_wavenumber: 8      # initial energy spectrum peak
    diffusion_order: 8      # del^4 or del^8 hyperdiffusion
    diffusion_time: 6h      # e-folding time of the shortest wave
    fields: [z, u, v, vorticity, divergence]        # also h (free-surface height, m)
    constants: [orography, cos_latitude, sin_latitude]  # also cos/sin_longitude

The result is an ``xarray.Dataset`` with time-varying variables ``(time, member, latitude,
longitude)`` and constants ``(latitude, longitude)``, all float32, latitudes north to south.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import xarray as xr

from wx_datasets.shallow_water import initial
from wx_datasets.shallow_water.errors import (
    InstabilityError,
    MeanDepthError,
    ShallowWaterError,
    TimeStepError,
    TruncationError,
)
from wx_datasets.shallow_water.forcing import Forcing, Stirring
from wx_datasets.shallow_water.model import COURANT_LIMIT, GRAVITY, ShallowWaterModel, Trajectory
from wx_datasets.shallow_water.options import FIELDS, SourceOptions, parse_options
from wx_datasets.shallow_water.spectral import SpectralTransform
from wx_utils.progress import progress

LOG = logging.getLogger(__name__)
SOURCE = "shallow-water"
DAY = 86400.0
STIRRING_BAND = (8, 14)  # total wavenumbers stirred: synoptic scales, 1400-2500 km
STIRRING_MEMORY = 2 * DAY  # decorrelation time of the stirring


def open_source(options: dict, *, dates: np.ndarray) -> xr.Dataset:
    """Simulate the shallow-water atmosphere and return its fields at ``dates`` (see module doc)."""
    config = parse_options(options)
    offsets = _date_offsets(dates)
    transform = SpectralTransform(truncation=config.truncation, nlat=config.nlat, nlon=config.nlon)
    time_step = _time_step(config, offsets)
    orography = build_orography(config, transform)
    model = build_model(config, transform, time_step=time_step, orography=orography)
    seeds = [config.seed + member for member in range(config.members)]
    state = initial.random_balanced_state(
        model,
        seeds,
        mean_depth=config.mean_depth,
        peak_wavenumber=config.peak_wavenumber,
        rms_wind=config.rms_wind,
    )
    _check_before_running(model, state)
    LOG.info(
        "shallow-water T%d on %dx%d, %d member(s), time step %g s, %d dates after %g days spin-up",
        config.truncation,
        config.nlat,
        config.nlon,
        config.members,
        time_step,
        len(dates),
        config.spin_up_days,
    )
    stirring = build_stirring(config, transform, seeds=seeds, time_step=time_step)
    trajectory = Trajectory(model, state, stirring=stirring)
    samples = _simulate(model, trajectory, config, offsets, time_step)
    return _to_dataset(samples, config, transform, orography, dates, time_step)


def build_orography(config: SourceOptions, transform: SpectralTransform) -> np.ndarray:
    """The orography ``[latitude, longitude]`` in m chosen by the options (zeros for none)."""
    if config.orography == "random":
        return initial.random_orography(transform, config.seed, max_height=config.orography_height)
    if config.orography == "mountain":
        return initial.isolated_mountain(transform, height=config.orography_height)
    return np.zeros((transform.nlat, transform.nlon))


def build_stirring(
    config: SourceOptions, transform: SpectralTransform, *, seeds: list[int], time_step: float
) -> Stirring | None:
    """The red-noise vorticity stirring of the forced flow (None without forcing)."""
    if not config.forcing or config.stirring <= 0:
        return None
    return Stirring(
        transform=transform,
        seeds=seeds,
        amplitude=config.stirring,
        band=STIRRING_BAND,
        memory=STIRRING_MEMORY,
        time_step=time_step,
    )


def build_model(
    config: SourceOptions, transform: SpectralTransform, *, time_step: float, orography
) -> ShallowWaterModel:
    """The model with the options' depth, diffusion and (optional) forcing."""
    forcing = None
    if config.forcing:
        # the free surface (depth + orography) relaxes to the zonal profile, so mountains
        # thin the layer instead of lifting the surface
        surface = initial.equilibrium_surface(transform, mean_height=config.mean_depth)
        forcing = Forcing(
            equilibrium_geopotential=transform.to_spectral(GRAVITY * (surface - orography)),
            relaxation_time=config.relaxation_days * DAY,
            drag_time=config.drag_days * DAY,
        )
    try:
        return ShallowWaterModel(
            transform=transform,
            time_step=time_step,
            mean_depth=config.mean_depth,
            orography=orography,
            diffusion_order=config.diffusion_order,
            diffusion_time=config.diffusion_time,
            forcing=forcing,
        )
    except MeanDepthError as error:
        raise MeanDepthError(f"{SOURCE}.mean_depth: {error}") from None


def _date_offsets(dates: np.ndarray) -> np.ndarray:
    """Seconds ``[time]`` of each date after the first; dates must be strictly increasing."""
    dates = np.asarray(dates)
    if dates.ndim != 1 or dates.size == 0 or not np.issubdtype(dates.dtype, np.datetime64):
        raise ShallowWaterError(
            f"{SOURCE}: dates must be a non-empty 1-D datetime64 array, got {dates.dtype} "
            f"with shape {dates.shape}"
        )
    offsets = (dates.astype("datetime64[s]") - dates[0].astype("datetime64[s]")).astype(np.int64)
    if np.any(np.diff(offsets) <= 0):
        raise ShallowWaterError(f"{SOURCE}: dates must be strictly increasing")
    return offsets


def _time_step(config: SourceOptions, offsets: np.ndarray) -> float:
    """The model time step in s: the option, or the longest stable default dividing the dates."""
    spacing = int(np.gcd.reduce(offsets[1:])) if offsets.size > 1 else 21600
    if config.time_step is not None:
        if spacing % config.time_step:
            raise TimeStepError(
                f"{SOURCE}.time_step: {config.time_step} s does not divide the date spacing of "
                f"{spacing} s; choose a divisor such as {spacing // -(-spacing // 1800)} s"
            )
        return float(config.time_step)
    longest = default_time_step(config.truncation)
    return spacing / -(-spacing // longest)  # ceil division: the most steps that fit


def default_time_step(truncation: int) -> float:
    """The default time step in s: 30 min at T42, scaled as 1/T (advective limit)."""
    return 1800.0 * 42.0 / truncation


def _check_before_running(model: ShallowWaterModel, state) -> None:
    try:
        model.check_state(state)
    except TimeStepError as error:
        raise TimeStepError(f"{SOURCE}.time_step: {error}") from None
    except MeanDepthError as error:
        raise MeanDepthError(f"{SOURCE}.mean_depth: {error}") from None


def _simulate(
    model: ShallowWaterModel,
    trajectory: Trajectory,
    config: SourceOptions,
    offsets: np.ndarray,
    time_step: float,
) -> dict[str, np.ndarray]:
    """Run the spin-up, then sample each requested field ``[time, member, lat, lon]`` float32."""
    shape = (offsets.size, config.members, model.transform.nlat, model.transform.nlon)
    samples = {name: np.empty(shape, dtype=np.float32) for name in config.fields}
    spin_up_steps = round(config.spin_up_days * DAY / time_step)
    total_days = spin_up_steps * time_step / DAY + offsets[-1] / DAY
    with progress(
        total=round(total_days, 3), description=f"{SOURCE} T{config.truncation}", unit="day"
    ) as bar:
        trajectory.advance(spin_up_steps)
        bar.update(round(spin_up_steps * time_step / DAY, 3))
        done = 0
        for index, offset in enumerate(offsets):
            steps = round(offset / time_step) - done
            trajectory.advance(steps)
            done += steps
            fields = model.grid_fields(trajectory.state)
            _check_sample(model, fields, offset / DAY)
            for name in config.fields:
                samples[name][index] = fields[name]
            bar.update(round(steps * time_step / DAY, 3))
    return samples


def _check_sample(model: ShallowWaterModel, fields: dict[str, np.ndarray], day: float) -> None:
    """Stop with a clear error as soon as the flow leaves the stable regime."""
    speed = np.sqrt(fields["u"] ** 2 + fields["v"] ** 2)
    if not np.all(np.isfinite(speed)) or not np.all(np.isfinite(fields["z"])):
        raise InstabilityError(
            f"{SOURCE}: the integration became non-finite by day {day:g} after the spin-up; "
            "lower time_step or raise diffusion"
        )
    truncation = model.transform.truncation
    courant = (
        float(speed.max()) * model.time_step * np.sqrt(truncation * (truncation + 1.0))
    ) / model.transform.radius
    if courant >= COURANT_LIMIT * 1.2:
        raise InstabilityError(
            f"{SOURCE}.time_step: the flow reached {float(speed.max()):.1f} m/s by day {day:g} "
            f"after the spin-up (Courant number {courant:.2f}); use a time step below "
            f"{model.time_step / courant:.0f} s"
        )
    if float(fields["depth"].min()) <= 0:
        raise MeanDepthError(
            f"{SOURCE}.mean_depth: the fluid depth fell to {float(fields['depth'].min()):.1f} m "
            f"by day {day:g} after the spin-up; increase mean_depth or lower the orography"
        )


def _to_dataset(
    samples: dict[str, np.ndarray],
    config: SourceOptions,
    transform: SpectralTransform,
    orography: np.ndarray,
    dates: np.ndarray,
    time_step: float,
) -> xr.Dataset:
    coords = {
        "time": np.asarray(dates).astype("datetime64[s]"),
        "member": np.arange(config.members),
        "latitude": ("latitude", transform.latitudes, {"units": "degrees_north"}),
        "longitude": ("longitude", transform.longitudes, {"units": "degrees_east"}),
    }
    variables = {}
    for name in config.fields:
        units, long_name = FIELDS[name]
        variables[name] = xr.Variable(
            ("time", "member", "latitude", "longitude"),
            samples[name],
            {"units": units, "long_name": long_name},
        )
    for name in config.constants:
        values, units, long_name = _constant(name, transform, orography)
        variables[name] = xr.Variable(
            ("latitude", "longitude"),
            values.astype(np.float32),
            {"units": units, "long_name": long_name},
        )
    attrs = {
        "source": SOURCE,
        "grid": "gaussian",
        "truncation": config.truncation,
        "grid_shape": [config.nlat, config.nlon],
        "time_step_seconds": time_step,
        "options": json.dumps(config.as_dict(), sort_keys=True),
        "references": "Williamson et al. 1992 (J. Comput. Phys. 102); Hack & Jakob 1992 (NCAR "
        "TN-343); Williams 2009 (Mon. Wea. Rev. 137)",
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _constant(
    name: str, transform: SpectralTransform, orography: np.ndarray
) -> tuple[np.ndarray, str, str]:
    latitude = np.radians(transform.latitudes)[:, None] * np.ones((1, transform.nlon))
    longitude = np.radians(transform.longitudes)[None, :] * np.ones((transform.nlat, 1))
    table = {
        "orography": (orography, "m", "surface height above the sphere"),
        "cos_latitude": (np.cos(latitude), "1", "cosine of latitude"),
        "sin_latitude": (np.sin(latitude), "1", "sine of latitude"),
        "cos_longitude": (np.cos(longitude), "1", "cosine of longitude"),
        "sin_longitude": (np.sin(longitude), "1", "sine of longitude"),
    }
    return table[name]


__all__ = ["InstabilityError", "TruncationError", "open_source"]
