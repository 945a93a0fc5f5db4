"""Autoregressive rollout of a batch of windows, shared by the training loss and validation.

A batch of windows ``fields`` is ``[batch, time, cell, sample_variable]`` with ``time =
input_steps + rollout``. The first ``input_steps`` dates give the model's input history; at
each step the model predicts the next state, which :func:`wx_models.advance_history` (the
helper inference uses) slides into the history together with the next date's forcings.

Limited-area models are forced at their boundary (Oskarsson et al. 2023, "Graph-based neural
weather prediction for limited area modeling"): at every step the prediction at non-interior
data nodes is replaced by the known state before it is scored or fed back, so the loss and the
scores cover the interior only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from wx_models import WeatherModel, advance_history


class Rollout(torch.nn.Module):
    """Column maps from sample variables to model inputs/outputs, and the boundary mask."""

    def __init__(
        self,
        *,
        sample_variables: Sequence[str],
        input_variables: Sequence[str],
        output_variables: Sequence[str],
        num_prognostic: int,
        input_steps: int,
        interior_mask: np.ndarray | None,
    ) -> None:
        super().__init__()
        column = {name: index for index, name in enumerate(sample_variables)}
        self.register_buffer(
            "input_columns", torch.tensor([column[name] for name in input_variables])
        )
        self.register_buffer(
            "output_columns", torch.tensor([column[name] for name in output_variables])
        )
        self.num_prognostic = num_prognostic
        self.input_steps = input_steps
        boundary = (
            None if interior_mask is None else torch.as_tensor(~np.asarray(interior_mask, bool))
        )
        self.register_buffer("boundary", boundary)  # [cell] True on forced boundary nodes

    @classmethod
    def for_model(
        cls, model: WeatherModel, sample_variables: Sequence[str], interior_mask: np.ndarray | None
    ) -> Rollout:
        return cls(
            sample_variables=sample_variables,
            input_variables=model.input_variables,
            output_variables=model.output_variables,
            num_prognostic=len(model.prognostic_variables),
            input_steps=model.input_steps,
            interior_mask=interior_mask,
        )

    def history(self, fields: torch.Tensor) -> torch.Tensor:
        """The first input window ``[batch, input_steps, cell, input_variable]``."""
        return fields[:, : self.input_steps].index_select(-1, self.input_columns)

    def target(self, fields: torch.Tensor, step: int) -> torch.Tensor:
        """Truth at rollout ``step`` (0 = the first prediction), ``[batch, cell, output_variable]``."""
        return fields[:, self.input_steps + step].index_select(-1, self.output_columns)

    def persistence(self, fields: torch.Tensor) -> torch.Tensor:
        """The last input state as a forecast for every lead, ``[batch, cell, output_variable]``."""
        return fields[:, self.input_steps - 1].index_select(-1, self.output_columns)

    def next_inputs(self, fields: torch.Tensor, step: int) -> torch.Tensor:
        """All input variables at the date of rollout ``step``, ``[batch, cell, input_variable]``."""
        return fields[:, self.input_steps + step].index_select(-1, self.input_columns)

    def run(
        self, model: torch.nn.Module, fields: torch.Tensor, rollout: int
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """Yield ``(step, prediction, target)`` for ``rollout`` steps (physical units)."""
        history = self.history(fields)
        for step in range(rollout):
            prediction = model(history)  # [batch, cell, output_variable]
            target = self.target(fields, step)
            if self.boundary is not None:
                prediction = torch.where(
                    self.boundary[:, None], target.to(prediction.dtype), prediction
                )
            yield step, prediction, target
            if step + 1 < rollout:
                history = advance_history(
                    history,
                    prediction,
                    self.next_inputs(fields, step),
                    num_prognostic=self.num_prognostic,
                )
