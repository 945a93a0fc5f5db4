"""Autoregressive rollout: slide the input window one time step forward.

``history`` holds the last ``input_steps`` model inputs ``[batch, input_steps, cell,
input_variable]`` (oldest first) in the model's input order, prognostic + forcing + constant;
``prediction`` is the model's output ``[batch, cell, output_variable]`` for the next step, in
output order, prognostic + diagnostic. The new window drops the oldest step and appends one
step whose

- prognostic values (the first ``P`` inputs) are the first ``P`` outputs of ``prediction``;
- forcing and constant values (inputs ``P`` onwards) come from ``forcings``, given either as
  ``[batch, cell, input_variable - P]`` (forcings then constants, in input order) or as the
  full next-step input ``[batch, cell, input_variable]`` whose first ``P`` values are ignored.

Diagnostic outputs are dropped. ``P`` is ``num_prognostic`` when given, otherwise
``input_variable - forcings.shape[-1]`` (so the full-input form needs ``num_prognostic``);
without forcing or constant variables ``forcings`` may be ``None``.
"""

from __future__ import annotations

import torch


def advance_history(
    history: torch.Tensor,
    prediction: torch.Tensor,
    forcings: torch.Tensor | None,
    *,
    num_prognostic: int | None = None,
) -> torch.Tensor:
    """The next input window ``[batch, input_steps, cell, input_variable]`` (see module doc)."""
    if history.ndim != 4:
        raise ValueError(
            f"history: expected [batch, input_steps, cell, input_variable], got {tuple(history.shape)}"
        )
    batch, _, cells, inputs = history.shape
    if prediction.ndim != 3 or prediction.shape[:2] != (batch, cells):
        raise ValueError(
            f"prediction: expected [{batch}, {cells}, output_variable], got {tuple(prediction.shape)}"
        )
    known = 0 if forcings is None else forcings.shape[-1]
    if forcings is not None and (forcings.ndim != 3 or forcings.shape[:2] != (batch, cells)):
        raise ValueError(
            f"forcings: expected [{batch}, {cells}, variable], got {tuple(forcings.shape)}"
        )
    prognostic = inputs - known if num_prognostic is None else num_prognostic
    if not 0 < prognostic <= inputs:
        raise ValueError(
            f"forcings has {known} variables for {inputs} inputs: give num_prognostic when "
            "passing the full next-step input"
        )
    if known not in (inputs - prognostic, inputs):
        raise ValueError(
            f"forcings: expected {inputs - prognostic} (forcing + constant) or {inputs} (full "
            f"input) variables for {prognostic} prognostic of {inputs} inputs, got {known}"
        )
    if prediction.shape[-1] < prognostic:
        raise ValueError(
            f"prediction has {prediction.shape[-1]} outputs, fewer than {prognostic} prognostic"
        )
    parts = [prediction[..., :prognostic].to(history.dtype)]
    if prognostic < inputs:
        parts.append(forcings[..., known - (inputs - prognostic) :].to(history.dtype))
    step = torch.cat(parts, dim=-1).unsqueeze(1)  # [batch, 1, cell, input_variable]
    return torch.cat([history[:, 1:], step], dim=1)  # [batch, input_steps, cell, input_variable]
