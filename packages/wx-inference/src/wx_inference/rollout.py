"""What changes between two forecast steps: forcings, boundary values and the input window.

- Forcings at the new valid time come from ``wx_datasets.forcings.compute_forcings`` (the
  function training uses) or, for forcings it does not compute, from the input dataset.
- A regional checkpoint (``interior_mask`` on the graph's data nodes) gets its prognostic values
  outside the interior from the boundary dataset at the valid time, as limited-area models are
  forced by a driving analysis or forecast (e.g. Oskarsson et al. 2023, Neural-LAM).
- The window advances with the model's ``advance_history`` (``wx_models.advance_history`` with
  the model's number of prognostic variables), fed with the new forcings and the constants.
"""

from __future__ import annotations

import numpy as np
import torch

from wx_datasets.forcings import compute_forcings
from wx_inference.ensemble import MemberPlan
from wx_inference.inputs import InputSource
from wx_inference.model_spec import ModelSpec


def computed_forcings(spec: ModelSpec, dates: np.ndarray) -> np.ndarray:
    """The forcings computed on the fly ``[time, forcing, cell]`` in ``spec.computed_forcings``."""
    return compute_forcings(spec.computed_forcings, dates, spec.latitudes, spec.longitudes)


def read_members(
    source: InputSource,
    dates: np.ndarray,
    names: list[str],
    order: np.ndarray | None,
    members: MemberPlan,
) -> np.ndarray:
    """Fields ``[time, variable, member, cell]`` in checkpoint cell order, one per member.

    A source with one member serves every forecast member (e.g. analyses as boundary values).
    """
    values = source.read(dates, names)  # [time, variable, ensemble, cell]
    values = values if order is None else values[..., order]
    chosen = members.input_members if source.ensemble_size > 1 else members.input_members * 0
    return values[:, :, chosen]


def forcings_at(
    spec: ModelSpec,
    valid_time: np.datetime64,
    source: InputSource | None,
    order: np.ndarray | None,
    members: MemberPlan,
) -> np.ndarray:
    """Forcings ``[member, cell, forcing]`` at ``valid_time`` in the model's forcing order."""
    values = np.empty((members.count, spec.latitudes.size, len(spec.forcing)), dtype=np.float32)
    computed = computed_forcings(spec, np.array([valid_time]))[0]  # [forcing, cell]
    dataset = spec.dataset_forcings
    if dataset:
        read = read_members(source, np.array([valid_time]), dataset, order, members)[0]
    for position, name in enumerate(spec.forcing):
        if name in dataset:
            values[..., position] = read[dataset.index(name)]  # [member, cell]
        else:
            values[..., position] = computed[spec.computed_forcings.index(name)]
    return values


def impose_boundary(
    spec: ModelSpec,
    prediction: torch.Tensor,
    boundary: InputSource,
    order: np.ndarray | None,
    valid_time: np.datetime64,
    members: MemberPlan,
) -> torch.Tensor:
    """``prediction`` ``[member, cell, output]`` with boundary prognostic values replaced."""
    names = list(spec.prognostic)
    values = read_members(boundary, np.array([valid_time]), names, order, members)[0]
    target = torch.from_numpy(values.transpose(1, 2, 0)).to(prediction.device)
    outside = torch.from_numpy(np.flatnonzero(~spec.interior_mask)).to(prediction.device)
    columns = torch.tensor(
        [spec.output_variables.index(n) for n in names], device=prediction.device
    )
    rows = prediction[:, outside]  # [member, boundary_cell, output_variable], a copy
    rows[:, :, columns] = target[:, outside]  # target: [member, cell, prognostic]
    prediction = prediction.clone()
    prediction[:, outside] = rows
    return prediction


def advance(
    model, spec: ModelSpec, history: torch.Tensor, prediction: torch.Tensor, forcings: torch.Tensor
) -> torch.Tensor:
    """The next input window: the model's ``advance_history`` with forcings and constants."""
    first_constant = len(spec.prognostic) + len(spec.forcing)
    constants = history[:, -1, :, first_constant:]  # [member, cell, constant]
    known = torch.cat([forcings, constants], dim=-1)  # [member, cell, forcing + constant]
    return model.advance_history(history, prediction, known)
