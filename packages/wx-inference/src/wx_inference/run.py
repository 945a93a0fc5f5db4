"""``wx-inference run``: checks, then a forecast per initial date written step by step.

Everything is checked before the output is created (checkpoint, input variables, grid, dates,
lead time, members, output path), so a bad configuration never leaves a file behind; the
forecast is then written through :mod:`wx_inference.output` (``.partial`` until complete).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import torch

from wx_inference import __version__
from wx_inference.config import RunConfig, config_to_dict, init_dates
from wx_inference.ensemble import plan_members
from wx_inference.forecaster import Forecaster
from wx_inference.output import check_output_path, open_writer
from wx_inference.sharding import InferenceGroup
from wx_utils.dates import frequency_to_string, frequency_to_timedelta64
from wx_utils.progress import progress
from wx_utils.provenance import provenance, utc_now

LOG = logging.getLogger(__name__)


def run_forecast(config: RunConfig, *, forecaster: Forecaster | None = None) -> Path:
    """Run the forecast described by ``config``; returns the output path.

    Under ``torchrun`` with several processes, the model is sharded over them
    (:mod:`wx_inference.sharding`) and rank 0 writes the output.
    """
    check_output_path(config.output, overwrite=config.overwrite)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    group = None if forecaster is not None else InferenceGroup.from_environment(config.device)
    try:
        forecaster = forecaster or Forecaster.from_checkpoint(
            config.checkpoint, device=config.device, precision=config.precision, group=group
        )
        return _run_forecast(config, forecaster)
    finally:
        if group is not None:
            group.close()


def _run_forecast(config: RunConfig, forecaster: Forecaster) -> Path:
    source = forecaster.open_input(config.input)
    boundary = None if config.boundary is None else forecaster.open_input(config.boundary)
    dates = init_dates(config.init_dates)
    lead_time = frequency_to_timedelta64(config.lead_time)
    plan = forecaster.check(source, dates, lead_time, members=config.members, boundary=boundary)
    perturbation = {"scale": config.perturbation.scale, "seed": config.perturbation.seed}
    members = plan_members(source.ensemble_size, config.members, **perturbation)
    header = forecaster.header(
        provenance=provenance(config_to_dict(config)),
        input=source.description,
        boundary=None if boundary is None else boundary.description,
        members=members.describe(),
        lead_time=frequency_to_string(lead_time),
    )
    layout = forecaster.layout(
        dates, lead_time, members, header=header, global_attributes=_global_attributes(config)
    )
    boundary = forecaster.boundary_for(source, boundary)
    group = forecaster.group
    if group is not None:
        group.barrier()  # every rank has checked the output path before rank 0 creates it
    writes = group is None or group.is_main
    started = time.perf_counter()
    with (
        open_writer(config.output, layout, format=config.format, overwrite=config.overwrite)
        if writes
        else NoWriter(config.output)
    ) as writer:
        bar = progress(
            total=dates.size * plan.steps,
            description="forecast",
            unit="step",
            disable=None if writes else True,
        )
        for init_index, init_time in enumerate(dates):
            state = forecaster.initial_state(
                source,
                init_time,
                members=config.members,
                perturbation=perturbation,
                plan=plan,
                init_index=init_index,
            )
            for lead_index, step in enumerate(forecaster.rollout(state, plan, source, boundary)):
                fields = step.fields if layout.members else step.fields[0]
                writer.write(init_index, lead_index, fields)
                bar.update(1)
        bar.close()
        path = writer.close()
    if group is not None:
        group.barrier()  # the output is complete when any rank returns
    elapsed = time.perf_counter() - started
    LOG.info(
        "%d steps in %.1f s (%.3f s/step)",
        dates.size * plan.steps,
        elapsed,
        elapsed / max(dates.size * plan.steps, 1),
    )
    return path


class NoWriter(contextlib.AbstractContextManager):
    """What ranks other than 0 of a sharded forecast write: nothing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, init_index: int, lead_index: int, fields) -> None:
        pass

    def close(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        return None


def _global_attributes(config: RunConfig) -> dict[str, str]:
    return {
        "title": f"wx forecast from {Path(config.checkpoint).name}",
        "source": f"wx-inference {__version__}, checkpoint {Path(config.checkpoint).name}",
        "history": f"{utc_now()} wx-inference run",
    }
