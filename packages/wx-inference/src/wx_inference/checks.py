"""Checks before a forecast runs: the input against what the checkpoint needs.

Each check raises an error naming what the checkpoint needs and what the input has, before any
output is created: variables (prognostic, constant and forcings not computed on the fly), grid
(cell coordinates within a tolerance, in any order), time step and input steps (every initial
date with its history in the input), lead time (a whole number of time steps), ensemble members,
and for regional checkpoints the boundary dataset at every valid time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wx_inference.grids import GridMismatchError, match_cells
from wx_inference.inputs import InputSource, MissingDateError, MissingVariableError
from wx_inference.model_spec import ModelSpec
from wx_utils.dates import frequency_to_string


class LeadTimeError(ValueError):
    """A lead time that is not a positive whole number of the checkpoint's time steps."""


class MembersError(ValueError):
    """An ensemble size the input cannot provide."""


@dataclass(frozen=True)
class InputPlan:
    """How the input maps onto the checkpoint: cell order and the dates needed."""

    order: np.ndarray | None  # [cell] input cell of each checkpoint cell, None if identical
    boundary_order: np.ndarray | None  # [cell] same for the boundary dataset
    steps: int  # forecast steps to reach the lead time


def lead_steps(spec: ModelSpec, lead_time: np.timedelta64) -> int:
    """Number of steps for ``lead_time``; raises :class:`LeadTimeError` unless a multiple."""
    lead = np.timedelta64(lead_time, "s").astype(np.int64)
    step = spec.time_step.astype("timedelta64[s]").astype(np.int64)
    if lead <= 0 or lead % step:
        raise LeadTimeError(
            f"lead time {frequency_to_string(np.timedelta64(lead, 's')) if lead > 0 else lead} "
            f"is not a positive multiple of the checkpoint's time step "
            f"{frequency_to_string(spec.time_step)}"
        )
    return int(lead // step)


def check_variables(spec: ModelSpec, source: InputSource, *, what: str = "input") -> None:
    """The input holds every variable the checkpoint reads from data."""
    needed = spec.variables_from_input
    missing = [name for name in needed if name not in source.variables]
    if missing:
        roles = ", ".join(f"{role}: {names}" for role, names in spec.roles_from_input().items())
        raise MissingVariableError(
            f"{what} {source.path} lacks {missing}. The checkpoint needs from its input "
            f"{roles} (forcings {spec.computed_forcings} are computed); the {what} has "
            f"{sorted(source.variables)}"
        )


def check_grid(spec: ModelSpec, source: InputSource, *, what: str = "input") -> np.ndarray | None:
    """Cell order of the input matching the checkpoint's grid (None when identical)."""
    try:
        return match_cells(
            expected_latitudes=spec.latitudes,
            expected_longitudes=spec.longitudes,
            latitudes=source.latitudes,
            longitudes=source.longitudes,
            what=f"{what} {source.path}",
        )
    except GridMismatchError as error:
        shape = spec.grid_shape or "unstructured"
        given = source.grid_shape or "unstructured"
        raise GridMismatchError(
            f"{error}. The checkpoint's grid has {spec.latitudes.size} cells ({shape}); the "
            f"{what} has {source.latitudes.size} cells ({given})"
        ) from None


def check_dates(
    spec: ModelSpec, source: InputSource, init_times: np.ndarray, steps: int, *, boundary=None
) -> None:
    """Every initial date and its history are in the input; forcings and boundary are too."""
    for init in init_times:
        if not np.any(source.dates == init):
            raise MissingDateError(
                f"initial date {init} is not in input {source.path} (it has "
                f"{_describe_dates(source.dates)})"
            )
        history = spec.history_dates(init)
        missing = [str(d) for d in history if not np.any(source.dates == d)]
        if missing:
            raise MissingDateError(
                f"the checkpoint's {spec.input_steps} input steps every "
                f"{frequency_to_string(spec.time_step)} need {[str(d) for d in history]} for "
                f"initial date {init}; input {source.path} lacks {missing} (it has "
                f"{_describe_dates(source.dates)})"
            )
        valid = init + spec.time_step * np.arange(1, steps + 1)
        if spec.dataset_forcings:
            source.date_indices(valid, purpose=f"forcings {spec.dataset_forcings} from {init}")
        if boundary is not None:
            boundary.date_indices(valid, purpose=f"the boundary values of the forecast from {init}")


def _describe_dates(dates: np.ndarray) -> str:
    if dates.size == 0:
        return "no dates"
    steps = np.unique(np.diff(dates)) if dates.size > 1 else []
    every = f" every {frequency_to_string(steps[0])}" if len(steps) == 1 else ""
    return f"{dates.size} dates {dates[0]}..{dates[-1]}{every}"


def check_members(source: InputSource, members: int | None) -> None:
    """``members`` beyond 1 come from the input's ensemble or from perturbations."""
    size = source.ensemble_size
    if members is not None and 1 < size < members:
        raise MembersError(
            f"{members} members asked for but input {source.path} has {size}; ask for at most "
            f"{size}, or use an input with one member and perturbed initial conditions"
        )


def check_input(
    spec: ModelSpec,
    source: InputSource,
    init_times: np.ndarray,
    lead_time: np.timedelta64,
    *,
    members: int | None = None,
    boundary: InputSource | None = None,
) -> InputPlan:
    """All checks in order; returns how to read the input for this checkpoint."""
    steps = lead_steps(spec, lead_time)
    check_variables(spec, source)
    order = check_grid(spec, source)
    boundary_order = None
    if spec.interior_mask is not None and boundary is not None:
        check_variables(spec, boundary, what="boundary dataset")
        boundary_order = check_grid(spec, boundary, what="boundary dataset")
    check_dates(
        spec,
        source,
        init_times,
        steps,
        boundary=boundary if spec.interior_mask is not None else None,
    )
    check_members(source, members)
    return InputPlan(order=order, boundary_order=boundary_order, steps=steps)
