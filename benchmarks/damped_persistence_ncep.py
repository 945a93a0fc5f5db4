#!/usr/bin/env python
"""A reference for benchmarks/skill_ncep.py: damped anomaly persistence.

Murphy (1992, *Weather and Forecasting* 7, 692-698) proposes the linear combination of
climatology and persistence as a standard of reference for skill scores. Here, per lead time
``L`` (6 h steps to 120 h):

    f(t + L) = c(t + L) + beta_L * (o(t) - c(t))

where ``c`` is each cell's harmonic climatology fitted to 2013 (one annual harmonic and the
diurnal terms: :func:`ncep_date_memory.climatology_fit`, the climatology the networks read), and
``beta_L`` the least-squares coefficient of the lead-``L`` anomaly on the initial anomaly over
2013, one number per lead for all cells, area-weighted:

    beta_L = sum_t sum_i w_i a_i(t) a_i(t + L) / sum_t sum_i w_i a_i(t)^2

with both ``t`` and ``t + L`` in 2013 (for a stationary anomaly, its lag-``L`` autocorrelation).
A smooth climatology matters: the scorer's climatology baseline, a 61-day running mean of the
single year 2013, takes up 2013's slow weather itself and leaves little to persist.

It forecasts the skill benchmark's 720 initial times of 2014, writes them as a wx forecast
(zarr) and scores them with ``wx-inference score`` on the full domain, exactly as the networks.
Two numbers per lead time, no network: how far persistence of the anomaly alone goes.

Prints one JSON line on stdout (progress on stderr).
Usage: uv run python benchmarks/damped_persistence_ncep.py [--output DIR] [--dataset PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from linear_ncep import (
    LEAD_STEPS,
    TRAIN_END,
    init_indices,
    open_store,
    report,
    write_forecast,
)
from ncep_date_memory import air_truth, climatology_fit
from skill_ncep import REPOSITORY, log, rmse_table, score

MODEL = "damped anomaly persistence (benchmarks/damped_persistence_ncep.py)"


def damping(
    anomaly: np.ndarray, weights: np.ndarray, train: np.ndarray, lead_steps: int = LEAD_STEPS
) -> np.ndarray:
    """``beta`` ``[lead]``: the pooled, area-weighted regression of ``anomaly[t + L]`` on
    ``anomaly[t]`` ``[time, cell]`` over the times where both are ``train``, for L = 1..lead_steps.
    """
    betas = []
    for lead in range(1, lead_steps + 1):
        pairs = train[:-lead] & train[lead:]  # [time - lead]
        now, later = anomaly[:-lead][pairs], anomaly[lead:][pairs]  # [pair, cell]
        betas.append((weights * now * later).sum() / (weights * now * now).sum())
    return np.array(betas)


def forecast(
    anomaly: np.ndarray, climatology: np.ndarray, betas: np.ndarray, inits: np.ndarray
) -> np.ndarray:
    """``[init, lead, cell]``: the climatology at each valid time plus the damped initial anomaly."""
    leads = np.arange(1, len(betas) + 1)
    valid = inits[:, None] + leads[None, :]  # [init, lead]
    return climatology[valid] + betas[None, :, None] * anomaly[inits][:, None, :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPOSITORY.parent / "skill-runs" / "damped")
    parser.add_argument("--dataset", type=Path, default=None, help="default: OUTPUT/ncep-air.zarr")
    arguments = parser.parse_args()
    started = time.perf_counter()
    view = open_store(arguments)
    dates, truth = air_truth(view)
    log("fitting each cell's seasonal and diurnal cycle and the damping per lead to 2013")
    climatology = climatology_fit(view, truth, dates)  # [time, cell]
    anomaly = truth - climatology
    weights = np.cos(np.deg2rad(np.asarray(view.latitudes)))  # [cell]
    betas = damping(anomaly, weights, dates < TRAIN_END)
    inits = init_indices(dates)
    log(f"forecasting {inits.size} initial times to {6 * LEAD_STEPS} h")
    settings = {"annual_harmonics": 1, "betas": [round(float(b), 4) for b in betas]}
    path = write_forecast(
        arguments.output / "forecasts" / "damped-persistence.zarr",
        view,
        forecast(anomaly, climatology, betas, inits),
        inits,
        model=MODEL,
        arguments=settings,
        input_steps=1,
    )
    table = rmse_table(score(path, arguments.output / "scores" / "damped-persistence", arguments))
    report("damped_persistence_ncep", settings, table, started)


if __name__ == "__main__":
    main()
