"""Autoregressive forecasts from a wx checkpoint, step by step.

From an initial state (the model's ``input_steps`` history ending at the initial time, read from
the input), each step feeds ``[member, input_steps, cell, input_variable]`` (physical units) to
the model, which returns ``[member, cell, output_variable]`` at the next time step; the window
then advances with the forcings at the new valid time (:mod:`wx_inference.rollout`). Members
are the batch dimension (:mod:`wx_inference.ensemble`). Only the current window lives in memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wx_inference import cf, rollout
from wx_inference.checkpoint import LoadedCheckpoint, open_checkpoint
from wx_inference.checks import InputPlan, check_input, lead_steps
from wx_inference.ensemble import MemberPlan, perturb, plan_members
from wx_inference.inputs import InputSource, open_input
from wx_inference.model_spec import ModelSpec
from wx_inference.output import (
    FORECAST_FORMAT,
    FORECAST_FORMAT_VERSION,
    ForecastLayout,
    layout_to_dataset,
)
from wx_inference.sharding import InferenceGroup
from wx_utils.dates import frequency_to_string, frequency_to_timedelta64, parse_datetime

LOG = logging.getLogger(__name__)
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
InputLike = InputSource | str | Path | dict


class PrecisionError(ValueError):
    """An unknown precision name."""


@dataclass(frozen=True)
class InitialState:
    """The model input window at an initial time, one row per member."""

    init_time: np.datetime64
    history: np.ndarray  # [member, input_steps, cell, input_variable] float32, physical units
    members: MemberPlan


@dataclass(frozen=True)
class ForecastStep:
    """One forecast step: every output variable of every member at a valid time."""

    init_time: np.datetime64
    lead_time: np.timedelta64  # seconds
    fields: np.ndarray  # [member, output_variable, cell] float32

    @property
    def valid_time(self) -> np.datetime64:
        return self.init_time + self.lead_time


class Forecaster:
    """A loaded checkpoint ready to forecast on ``device`` at ``precision``."""

    def __init__(
        self,
        *,
        checkpoint: LoadedCheckpoint,
        device: str = "cpu",
        precision: str = "fp32",
        group: InferenceGroup | None = None,
    ):
        if precision not in ("fp32", *AUTOCAST):
            raise PrecisionError(f"precision {precision!r}: expected fp32, bf16 or fp16")
        self.checkpoint = checkpoint
        self.spec: ModelSpec = checkpoint.spec
        self.group = group
        model = checkpoint.model
        if group is not None:  # shard on the host, so only this rank's part reaches the device
            device, model = group.device(device), group.wrap(model)
        self.device = torch.device(device)
        self.precision = precision
        self.model = model.to(self.device).eval()

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        device: str = "cpu",
        precision: str = "fp32",
        group: InferenceGroup | None = None,
    ) -> Forecaster:
        """Load ``path`` safely (safetensors + JSON, never unpickled) and move it to ``device``.

        With ``group`` (a sharded run under ``torchrun``) the model is sharded over its ranks.
        """
        return cls(
            checkpoint=open_checkpoint(path), device=device, precision=precision, group=group
        )

    # -- inputs and checks ----------------------------------------------------------------
    def open_input(self, spec: InputLike) -> InputSource:
        """An input source (path, ``{path, variables, format, options}``, or a source)."""
        if isinstance(spec, InputSource):
            return spec
        return open_input(spec, names=self.spec.variables_from_input)

    def boundary_for(self, source, boundary):
        """The boundary source of a regional checkpoint (default: the input), else None."""
        return (boundary or source) if self.spec.interior_mask is not None else None

    def check(
        self,
        source: InputSource,
        init_times,
        lead_time,
        *,
        members: int | None = None,
        boundary: InputSource | None = None,
    ) -> InputPlan:
        """Check ``source`` against the checkpoint (variables, grid, dates, steps, members)."""
        return check_input(
            self.spec,
            source,
            _dates(init_times),
            frequency_to_timedelta64(lead_time),
            members=members,
            boundary=self.boundary_for(source, boundary),
        )

    # -- initial state --------------------------------------------------------------------
    def initial_state(
        self,
        source: InputSource,
        init_time,
        *,
        members: int | None = None,
        perturbation: dict[str, Any] | None = None,
        plan: InputPlan | None = None,
        init_index: int = 0,
    ) -> InitialState:
        """The window ``[member, input_steps, cell, input_variable]`` ending at ``init_time``.

        ``init_index`` selects the perturbation stream of this initial date (see ensemble).
        """
        init_time = parse_datetime(init_time)
        if plan is None:
            plan = self.check(source, [init_time], self.spec.time_step, members=members)
        member_plan = plan_members(source.ensemble_size, members, **(perturbation or {}))
        dates = self.spec.history_dates(init_time)
        names = self.spec.variables_from_input
        read = rollout.read_members(source, dates, names, plan.order, member_plan)
        computed = rollout.computed_forcings(self.spec, dates)  # [time, forcing, cell]
        shape = (member_plan.count, dates.size, self.spec.latitudes.size)
        history = np.empty((*shape, len(self.spec.input_variables)), dtype=np.float32)
        for position, name in enumerate(self.spec.input_variables):
            if name in names:  # read: [time, variable, member, cell]
                history[..., position] = read[:, names.index(name)].transpose(1, 0, 2)
            else:
                history[..., position] = computed[:, self.spec.computed_forcings.index(name)]
        history = perturb(
            history, member_plan, variable_stdev=self._perturbation_stdev(), init_index=init_index
        )
        return InitialState(init_time=init_time, history=history, members=member_plan)

    def _perturbation_stdev(self) -> np.ndarray:
        """Tendency standard deviation ``[input_variable]``, 0 except for prognostic ones."""
        stdev = np.zeros(len(self.spec.input_variables), dtype=np.float64)
        for position, name in enumerate(self.spec.input_variables):
            if name in self.spec.prognostic:
                if name not in self.spec.tendency_stdev:
                    raise KeyError(f"checkpoint has no tendency statistics for {name!r}")
                stdev[position] = self.spec.tendency_stdev[name]
        return stdev

    # -- stepping -------------------------------------------------------------------------
    def steps(
        self,
        start: InitialState | Any,
        lead_time,
        *,
        input: InputLike | None = None,
        boundary: InputLike | None = None,
        members: int | None = None,
        perturbation: dict[str, Any] | None = None,
    ) -> Iterator[ForecastStep]:
        """Yield the forecast step by step up to ``lead_time`` from ``start``.

        ``start`` is an :class:`InitialState`, or an initial time whose state is read from
        ``input``. ``input`` also provides forcings that are not computed on the fly, and a
        regional checkpoint's boundary values unless ``boundary`` is given.
        """
        state = start if isinstance(start, InitialState) else None
        source = None if input is None else self.open_input(input)
        extra = None if boundary is None else self.open_input(boundary)
        boundary_source = self.boundary_for(source, extra)
        if source is None and (state is None or self.spec.dataset_forcings):
            raise ValueError(
                "steps() needs input= to read the initial state and the forcings "
                f"{self.spec.dataset_forcings or ''} from"
            )
        if self.spec.interior_mask is not None and boundary_source is None:
            raise ValueError("a regional checkpoint needs boundary= (or input=) at every step")
        init_time = state.init_time if state else parse_datetime(start)
        reference = source or boundary_source
        if reference is None:
            plan = InputPlan(order=None, boundary_order=None, steps=_steps(self.spec, lead_time))
        else:
            plan = self.check(reference, [init_time], lead_time, boundary=extra,
                              members=None if state else members)  # fmt: skip
        if state is None:
            state = self.initial_state(
                source, init_time, members=members, perturbation=perturbation, plan=plan
            )
        yield from self.rollout(state, plan, source, boundary_source)

    def rollout(
        self,
        state: InitialState,
        plan: InputPlan,
        source: InputSource | None,
        boundary: InputSource | None,
    ) -> Iterator[ForecastStep]:
        """The steps of one checked forecast (see :meth:`steps` for the checked entry point)."""
        history = torch.from_numpy(state.history).to(self.device)
        for step in range(1, plan.steps + 1):
            valid_time = state.init_time + self.spec.time_step * step
            with torch.no_grad(), self._autocast():
                prediction = self.model(history).float()  # [member, cell, output_variable]
            if boundary is not None:
                prediction = rollout.impose_boundary(
                    self.spec, prediction, boundary, plan.boundary_order, valid_time, state.members
                )
            yield ForecastStep(
                init_time=state.init_time,
                lead_time=self.spec.time_step * step,
                fields=prediction.transpose(1, 2).cpu().numpy(),  # [member, output, cell]
            )
            if step < plan.steps:
                forcings = rollout.forcings_at(
                    self.spec, valid_time, source, plan.order, state.members
                )
                forcings = torch.from_numpy(forcings).to(self.device)
                history = rollout.advance(self.model, self.spec, history, prediction, forcings)

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=AUTOCAST[self.precision])

    # -- whole forecasts ------------------------------------------------------------------
    def layout(
        self, init_times, lead_time, members: MemberPlan, *, header=None, global_attributes=None
    ) -> ForecastLayout:
        """The file layout of a forecast of ``init_times`` up to ``lead_time``."""
        steps = _steps(self.spec, lead_time)
        metadata = self.spec.variables_metadata
        names = self.spec.output_variables
        return ForecastLayout(
            variables=names,
            variable_attributes={n: cf.variable_attributes(n, metadata.get(n)) for n in names},
            init_times=_dates(init_times),
            lead_times=(self.spec.time_step * np.arange(1, steps + 1)).astype("timedelta64[s]"),
            latitudes=self.spec.latitudes,
            longitudes=self.spec.longitudes,
            grid_shape=self.spec.grid_shape,
            members=members.count if members.has_member_dim else None,
            interior_mask=self.spec.interior_mask,
            header=header or self.header(),
            global_attributes=global_attributes or {},
        )

    def header(self, **fields: Any) -> dict[str, Any]:
        """The forecast's wx header: checkpoint link, timing, plus ``fields``."""
        return {
            "format": FORECAST_FORMAT,
            "format_version": FORECAST_FORMAT_VERSION,
            "checkpoint": self.checkpoint.link(),
            "time_step": frequency_to_string(self.spec.time_step),
            "input_steps": self.spec.input_steps,
            "precision": self.precision,
            **fields,
        }

    def forecast(
        self,
        input: InputLike,
        init_times,
        lead_time,
        *,
        boundary: InputLike | None = None,
        members: int | None = None,
        perturbation: dict[str, Any] | None = None,
    ):
        """The whole forecast as an ``xarray.Dataset`` in memory (files: ``run_forecast``)."""
        source = self.open_input(input)
        extra = None if boundary is None else self.open_input(boundary)
        init_times = _dates(init_times)
        plan = self.check(source, init_times, lead_time, members=members, boundary=extra)
        member_plan = plan_members(source.ensemble_size, members, **(perturbation or {}))
        header = self.header(input=source.description, members=member_plan.describe())
        layout = self.layout(init_times, lead_time, member_plan, header=header)
        shape = (init_times.size, plan.steps, member_plan.count, len(layout.variables))
        values = np.empty((*shape, self.spec.latitudes.size), dtype=np.float32)
        for init_index, init_time in enumerate(init_times):
            state = self.initial_state(source, init_time, members=members, plan=plan,
                                       perturbation=perturbation, init_index=init_index)  # fmt: skip
            steps = self.rollout(state, plan, source, self.boundary_for(source, extra))
            for lead_index, step in enumerate(steps):
                values[init_index, lead_index] = step.fields
        return layout_to_dataset(layout, values)


def _dates(values) -> np.ndarray:
    values = [values] if isinstance(values, str | np.datetime64) else list(values)
    return np.array([parse_datetime(v) for v in values], dtype="datetime64[s]")


def _steps(spec: ModelSpec, lead_time) -> int:
    return lead_steps(spec, frequency_to_timedelta64(lead_time))
