"""What a checkpoint needs and produces, read from a loaded wx-models checkpoint.

Variables by role (prognostic, forcing, diagnostic, constant), their order at the model's
input and output, time step and input steps, the grid's cell coordinates (and the interior
mask of a regional graph), and the statistics used for perturbations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wx_datasets.forcings import is_computed_forcing
from wx_inference.grids import infer_grid_shape
from wx_utils.dates import frequency_to_timedelta64


@dataclass(frozen=True)
class ModelSpec:
    """The variables, timing and grid of a checkpoint."""

    prognostic: tuple[str, ...]
    forcing: tuple[str, ...]
    diagnostic: tuple[str, ...]
    constant: tuple[str, ...]
    input_variables: tuple[str, ...]
    output_variables: tuple[str, ...]
    time_step: np.timedelta64  # seconds
    input_steps: int
    latitudes: np.ndarray  # [cell] degrees
    longitudes: np.ndarray  # [cell] degrees
    interior_mask: np.ndarray | None = None  # [cell] bool, regional graphs only
    tendency_stdev: dict[str, float] = field(default_factory=dict)
    variables_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    stored_grid_shape: tuple[int, ...] | None = None  # the checkpoint's grid shape, if recorded

    @property
    def grid_shape(self) -> tuple[int, int] | None:
        """(lat, lon) when the cells form a row-major latitude/longitude grid."""
        inferred = infer_grid_shape(self.latitudes, self.longitudes)
        if self.stored_grid_shape is not None and tuple(self.stored_grid_shape) != inferred:
            return None  # e.g. a reduced Gaussian grid: written on the cell dimension
        return inferred

    @property
    def computed_forcings(self) -> list[str]:
        return [name for name in self.forcing if is_computed_forcing(name)]

    @property
    def dataset_forcings(self) -> list[str]:
        return [name for name in self.forcing if not is_computed_forcing(name)]

    @property
    def variables_from_input(self) -> list[str]:
        return [*self.prognostic, *self.constant, *self.dataset_forcings]

    def roles_from_input(self) -> dict[str, list[str]]:
        roles = {
            "prognostic": list(self.prognostic),
            "constant": list(self.constant),
            "forcing": self.dataset_forcings,
        }
        return {role: names for role, names in roles.items() if names}

    def history_dates(self, init_time: np.datetime64) -> np.ndarray:
        """Dates ``[input_steps]`` of the model's input history ending at ``init_time``."""
        offsets = np.arange(-(self.input_steps - 1), 1)
        return np.datetime64(init_time, "s") + self.time_step * offsets


def _variables_metadata(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Units etc. per variable: the dataset's ``variables_metadata`` if the checkpoint carries it,
    else the units wx-training records with its validation scores (``validation.units``)."""
    for holder in (metadata, metadata.get("dataset") or {}, metadata.get("training") or {}):
        found = holder.get("variables_metadata") if isinstance(holder, dict) else None
        if isinstance(found, dict):
            return {str(k): dict(v) for k, v in found.items() if isinstance(v, dict)}
    units = (metadata.get("validation") or {}).get("units")
    if isinstance(units, dict):
        return {str(name): {"units": str(unit)} for name, unit in units.items() if unit}
    return {}


def spec_from_checkpoint(model: Any, metadata: dict[str, Any]) -> ModelSpec:
    """The :class:`ModelSpec` of a ``wx_models.WeatherModel`` and its checkpoint header."""
    statistics = model.arguments.get("statistics", {})
    interior = model.graph_tensors.get("nodes/data/interior_mask")
    grid_shape = model.arguments.get("grid_shape")
    return ModelSpec(
        prognostic=tuple(model.prognostic_variables),
        forcing=tuple(model.forcing_variables),
        diagnostic=tuple(model.diagnostic_variables),
        constant=tuple(model.constant_variables),
        input_variables=tuple(model.input_variables),
        output_variables=tuple(model.output_variables),
        time_step=frequency_to_timedelta64(model.time_step),
        input_steps=int(model.input_steps),
        latitudes=model.latitudes.detach().cpu().numpy().astype(np.float64),
        longitudes=model.longitudes.detach().cpu().numpy().astype(np.float64),
        interior_mask=None if interior is None else interior.cpu().numpy().astype(bool),
        tendency_stdev={
            name: float(values["tendency_stdev"])
            for name, values in statistics.items()
            if "tendency_stdev" in values
        },
        variables_metadata=_variables_metadata(metadata),
        stored_grid_shape=None if grid_shape is None else tuple(int(n) for n in grid_shape),
    )
