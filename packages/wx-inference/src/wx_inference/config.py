"""The ``wx-inference run`` configuration: a YAML file plus ``key=value`` overrides (OmegaConf).

Keys (unknown keys and wrong types are errors naming the key):

```yaml
checkpoint: model.safetensors       # an inference checkpoint from wx-training / wx-models
input: era5.zarr                    # a wx dataset store, or {path, variables, format, options}
boundary: null                      # regional checkpoints: boundary values (default: input)
init_dates: [2014-01-01T00, ...]    # or {start: ..., end: ..., frequency: 12h}
lead_time: 5d                       # a multiple of the checkpoint's time step
output: forecast.zarr
format: zarr                        # zarr | netcdf
device: cpu                         # cpu | cuda | cuda:1 | mps
precision: fp32                     # fp32 | bf16 | fp16 (autocast)
threads: null                       # torch CPU threads (null: torch's default)
members: null                       # null: every member of an ensemble input, else deterministic
perturbation: {scale: 0.5, seed: 0} # perturbed initial conditions when members > input members
overwrite: false
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from wx_utils.dates import date_range, frequency_to_timedelta64, parse_datetime

PRECISIONS = ("fp32", "bf16", "fp16")
REPLACED_WHOLE = ("input", "boundary", "init_dates")  # a list, a mapping or a string each


class ConfigError(ValueError):
    """A run configuration with a missing, unknown or invalid key."""


@dataclass
class PerturbationConfig:
    scale: float = 0.5
    seed: int = 0


@dataclass
class RunConfig:
    checkpoint: str = MISSING
    input: Any = MISSING
    boundary: Any = None
    init_dates: Any = MISSING
    lead_time: str = MISSING
    output: str = MISSING
    format: str = "zarr"
    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    members: int | None = None
    perturbation: PerturbationConfig = field(default_factory=PerturbationConfig)
    overwrite: bool = False


def load_run_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """The validated run configuration from a YAML file and dotlist overrides."""
    where = f"run configuration {path}" if path is not None else "run configuration"
    try:
        config = OmegaConf.structured(RunConfig)
        if path is not None:
            if not Path(path).is_file():
                raise FileNotFoundError(f"run configuration {path}: no such file")
            config = OmegaConf.merge(config, OmegaConf.load(path))
        config = _apply_overrides(config, list(overrides or []))
        missing = sorted(OmegaConf.missing_keys(config))
        if missing:
            raise ConfigError(f"{where}: missing key(s) {missing}")
        run = OmegaConf.to_object(config)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{where}: {error}".replace("\n", "; ")) from None
    _validate(run)
    return run


def _apply_overrides(config, overrides: list[str]):
    """Merge ``key=value`` overrides; a whole-value override of a list-or-mapping key replaces.

    ``init_dates=[2014-01-05]`` over a ``{start, end, frequency}`` mapping (or ``input=x.zarr``
    over ``{path, variables}``) means the new value, not a merge of a list into a mapping.
    """
    replaced = [item for item in overrides if item.split("=", 1)[0] in REPLACED_WHOLE]
    merged = [item for item in overrides if item not in replaced]
    config = OmegaConf.merge(config, OmegaConf.from_dotlist(merged))
    for key, value in OmegaConf.from_dotlist(replaced).items():
        config[key] = value
    return config


def _validate(run: RunConfig) -> None:
    if run.format not in ("zarr", "netcdf"):
        raise ConfigError(f"format {run.format!r}: expected 'zarr' or 'netcdf'")
    if run.precision not in PRECISIONS:
        raise ConfigError(f"precision {run.precision!r}: expected one of {list(PRECISIONS)}")
    if run.threads is not None and run.threads < 1:
        raise ConfigError(f"threads {run.threads}: expected a positive number or null")
    if run.members is not None and run.members < 1:
        raise ConfigError(f"members {run.members}: expected a positive number or null")
    init_dates(run.init_dates)
    frequency_to_timedelta64(run.lead_time)


def init_dates(value: Any) -> np.ndarray:
    """Initial dates ``[init]`` datetime64[s] from a list or ``{start, end, frequency}``."""
    if isinstance(value, str | np.datetime64):
        value = [value]
    if isinstance(value, dict):
        unknown = set(value) - {"start", "end", "frequency"}
        if unknown or not {"start", "end"} <= set(value):
            raise ConfigError(
                f"init_dates {value}: expected a list or {{start, end, frequency}} (frequency "
                "defaults to 1d)"
            )
        dates = date_range(value["start"], value["end"], value.get("frequency", "1d"))
    else:
        dates = np.array([parse_datetime(str(item)) for item in value], dtype="datetime64[s]")
    if dates.size == 0:
        raise ConfigError("init_dates: no initial date given")
    if np.unique(dates).size != dates.size:
        raise ConfigError(f"init_dates: repeated dates in {[str(d) for d in dates]}")
    return np.sort(dates)


def config_to_dict(run: RunConfig) -> dict[str, Any]:
    """Plain JSON-able dict of the run configuration (for provenance)."""
    return OmegaConf.to_container(OmegaConf.structured(run), resolve=True)
