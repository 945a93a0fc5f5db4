"""Options of the ``shallow-water`` source: defaults, validation, errors naming the key."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass

from wx_datasets.shallow_water.errors import (
    MeanDepthError,
    ShallowWaterError,
    TimeStepError,
    TruncationError,
    UnknownFieldError,
)
from wx_datasets.shallow_water.spectral import check_grid, default_grid
from wx_utils.dates import DateError, parse_frequency

SOURCE = "shallow-water"

# name -> (units, long name) of the time-varying fields the source writes
FIELDS = {
    "z": ("m2 s-2", "geopotential of the free surface"),
    "h": ("m", "height of the free surface above the sphere"),
    "u": ("m s-1", "eastward wind"),
    "v": ("m s-1", "northward wind"),
    "vorticity": ("s-1", "relative vorticity"),
    "divergence": ("s-1", "horizontal divergence"),
}
CONSTANTS = ("orography", "cos_latitude", "sin_latitude", "cos_longitude", "sin_longitude")
OROGRAPHY = ("random", "mountain", "none")


@dataclass(frozen=True)
class SourceOptions:
    """Validated options of one ``shallow-water`` recipe input (see ``source`` module doc)."""

    truncation: int = 42
    nlat: int = 64
    nlon: int = 128
    members: int = 1
    seed: int = 0
    spin_up_days: float = 60.0
    mean_depth: float = 8000.0
    orography: str = "random"
    orography_height: float = 2500.0
    forcing: bool = True
    relaxation_days: float = 10.0
    drag_days: float = 20.0
    stirring: float = 8.0e-11
    time_step: int | None = None
    rms_wind: float = 20.0
    peak_wavenumber: float = 8.0
    diffusion_order: int = 8
    diffusion_time: float = 6 * 3600.0
    fields: tuple[str, ...] = ("z", "u", "v", "vorticity", "divergence")
    constants: tuple[str, ...] = ("orography", "cos_latitude", "sin_latitude")

    def as_dict(self) -> dict:
        """Plain JSON-ready values (lists for tuples)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }


_IDENTIFIERS = ("type", "source")  # the recipe's own key for the input kind, if passed on
OPTION_KEYS = (*SourceOptions.__dataclass_fields__, *_IDENTIFIERS)


def parse_options(options: dict) -> SourceOptions:
    """Validate a recipe entry; every error names the key as ``shallow-water.<key>``."""
    if not isinstance(options, dict):
        raise ShallowWaterError(
            f"{SOURCE}: options must be a mapping, got {type(options).__name__}"
        )
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ShallowWaterError(
            f"{SOURCE}: unknown option(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(OPTION_KEYS)}"
        )
    for key in _IDENTIFIERS:
        if key in options and options[key] != SOURCE:
            raise ShallowWaterError(f"{SOURCE}.{key}: {options[key]!r}; expected {SOURCE!r}")
    truncation = _integer(options, "truncation", 42, minimum=1)
    nlat_default, nlon_default = default_grid(truncation)
    nlat = _integer(options, "nlat", nlat_default, minimum=1)
    nlon = _integer(options, "nlon", nlon_default, minimum=1)
    try:
        check_grid(truncation, nlat, nlon)
    except TruncationError as error:
        raise TruncationError(f"{SOURCE}.truncation: {error}") from None
    mean_depth = _number(options, "mean_depth", 8000.0)
    if not mean_depth > 0:
        raise MeanDepthError(f"{SOURCE}.mean_depth: {mean_depth!r} m; expected a positive depth")
    return SourceOptions(
        truncation=truncation,
        nlat=nlat,
        nlon=nlon,
        members=_integer(options, "members", 1, minimum=1),
        seed=_integer(options, "seed", 0, minimum=0),
        spin_up_days=_number(options, "spin_up_days", 60.0, minimum=0.0),
        mean_depth=mean_depth,
        orography=_orography(options.get("orography", "random")),
        orography_height=_number(options, "orography_height", 2500.0, minimum=0.0),
        forcing=_boolean(options, "forcing", True),
        relaxation_days=_number(options, "relaxation_days", 10.0, positive=True),
        drag_days=_number(options, "drag_days", 20.0, positive=True),
        stirring=_number(options, "stirring", 8.0e-11, minimum=0.0),
        time_step=_time_step(options.get("time_step")),
        rms_wind=_number(options, "rms_wind", 20.0, minimum=0.0),
        peak_wavenumber=_number(options, "peak_wavenumber", 8.0, positive=True),
        diffusion_order=_choice(options, "diffusion_order", 8, (4, 8)),
        diffusion_time=_duration(options, "diffusion_time", 6 * 3600.0),
        fields=_names(options, "fields", SourceOptions.fields, tuple(FIELDS)),
        constants=_names(options, "constants", SourceOptions.constants, CONSTANTS),
    )


def _integer(options: dict, key: str, default: int, *, minimum: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r}; expected an integer >= {minimum}")
    return int(value)


def _number(
    options: dict, key: str, default: float, *, minimum: float | None = None, positive=False
) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r}; expected a number")
    if positive and not value > 0:
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r}; expected a positive number")
    if minimum is not None and value < minimum:
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r}; expected a number >= {minimum:g}")
    return float(value)


def _boolean(options: dict, key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r}; expected true or false")
    return value


def _choice(options: dict, key: str, default, choices: tuple):
    value = options.get(key, default)
    if value not in choices or isinstance(value, bool):
        raise ShallowWaterError(
            f"{SOURCE}.{key}: {value!r}; expected one of {', '.join(map(str, choices))}"
        )
    return value


def _orography(value) -> str:
    if value is True:
        return "random"
    if value is False or value is None:
        return "none"
    if value not in OROGRAPHY:
        raise ShallowWaterError(
            f"{SOURCE}.orography: {value!r}; expected one of {', '.join(OROGRAPHY)} "
            "(or true / false)"
        )
    return value


def _time_step(value) -> int | None:
    """A time step in whole seconds: a number of seconds or a duration such as '30min'."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        seconds = float(value)
    else:
        try:
            seconds = parse_frequency(str(value)).total_seconds()
        except DateError as error:
            raise TimeStepError(f"{SOURCE}.time_step: {error}") from None
    if not seconds > 0 or seconds != int(seconds):
        raise TimeStepError(
            f"{SOURCE}.time_step: {value!r}; expected a whole positive number of seconds"
        )
    return int(seconds)


def _duration(options: dict, key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0:
        return float(value)
    try:
        return parse_frequency(str(value)).total_seconds()
    except DateError as error:
        raise ShallowWaterError(f"{SOURCE}.{key}: {error} (or a number of seconds)") from None


def _names(options: dict, key: str, default: tuple, known: tuple) -> tuple[str, ...]:
    value = options.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r}; expected a list of names")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise UnknownFieldError(
            f"{SOURCE}.{key}: unknown name(s) {', '.join(map(repr, unknown))}; expected some of "
            f"{', '.join(known)}"
        )
    if len(set(value)) != len(value):
        raise ShallowWaterError(f"{SOURCE}.{key}: {value!r} names a field twice")
    return tuple(value)
