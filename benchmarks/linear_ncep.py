#!/usr/bin/env python
"""A statistical reference for benchmarks/skill_ncep.py: a per-cell linear autoregression.

For each grid cell, a ridge regression (Hoerl and Kennard 1970) predicts the 6 h air-temperature
anomaly from the anomalies of the 5 x 5 neighbouring cells at the last 5 steps (t-24 h .. t)
and the annual and diurnal harmonics of the valid time that wx_models' climatology input
uses (:func:`wx_models.climatology.harmonic_basis`): one regression per cell, as Model Output
Statistics fits one per station (Glahn and Lowry 1972), but used autoregressively like the
networks: each step's prediction joins the history of the next. Fitted on 2013, it forecasts
the same 720 initial times of 2014 to 120 h as the skill benchmark, writes them as a wx forecast
(zarr) and scores them with ``wx-inference score`` on the full domain, so its RMSE is computed
exactly as the networks'. It tells how much of the networks' skill a local linear model has.

Prints one JSON line on stdout (progress on stderr).
Usage: uv run python benchmarks/linear_ncep.py [--output DIR] [--dataset PATH] [--pooled]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch
from skill_ncep import (
    CLIMATOLOGY_PERIOD,
    REPOSITORY,
    ensure_dataset,
    log,
    machine,
    rmse_table,
    score,
)

from wx_datasets.forcings import compute_forcings
from wx_datasets.view import StoreView
from wx_inference import cf
from wx_inference.output import (
    FORECAST_FORMAT,
    FORECAST_FORMAT_VERSION,
    ForecastLayout,
    ZarrForecastWriter,
)
from wx_models.climatology import ANGLE_FORCINGS, harmonic_basis

VARIABLE = "air"
RADIUS = 2  # a (2 * RADIUS + 1)^2 stencil of cells
INPUT_STEPS = 5  # t-24 h .. t
RIDGE = 10.0  # on normalised anomalies
LEAD_STEPS = 20  # 120 h
TRAIN_END = np.datetime64("2014-01-01T00:00", "s")  # targets before this date are 2013
FIRST_INIT, LAST_INIT = (
    np.datetime64("2014-01-01T00:00", "s"),
    np.datetime64("2014-12-26T12:00", "s"),
)


def harmonics(
    dates: np.ndarray, latitudes: np.ndarray, longitudes: np.ndarray, *, annual_harmonics: int
) -> np.ndarray:
    """``[time, lat, lon, term]``: the basis of wx_models' harmonic climatology (annual and
    diurnal terms in the time of year and the local solar time) at ``dates`` on the grid."""
    angles = compute_forcings(ANGLE_FORCINGS, dates, latitudes.ravel(), longitudes.ravel())
    angles_t = torch.as_tensor(angles, dtype=torch.float64)
    basis = harmonic_basis(*angles_t.unbind(1), annual_harmonics=annual_harmonics)
    return basis.numpy().reshape(len(dates), *latitudes.shape, -1)  # [time, cell, term] -> grid


def stencils(history: np.ndarray) -> np.ndarray:
    """``[sample, step, lat, lon]`` -> ``[sample, lat, lon, step * stencil]`` (edges repeated)."""
    width = 2 * RADIUS + 1
    nlat, nlon = history.shape[-2:]
    padded = np.pad(history, ((0, 0), (0, 0), (RADIUS, RADIUS), (RADIUS, RADIUS)), mode="edge")
    shifted = [padded[..., i : i + nlat, j : j + nlon] for i in range(width) for j in range(width)]
    stacked = np.stack(shifted, axis=-1)  # [sample, step, lat, lon, stencil]
    return stacked.transpose(0, 2, 3, 1, 4).reshape(*stacked.shape[:1], nlat, nlon, -1)


def features(history: np.ndarray, seasonal: np.ndarray) -> np.ndarray:
    """Stencils of the history and the valid time's harmonics ``seasonal`` ``[sample, lat, lon,
    term]``: ``[sample, lat, lon, feature]``."""
    return np.concatenate([stencils(history), seasonal], axis=-1)


def fit(
    anomaly: np.ndarray, seasonal: np.ndarray, dates: np.ndarray, *, pooled: bool = False
) -> np.ndarray:
    """Per-cell ridge coefficients ``[lat, lon, feature]`` for one 6 h step, on 2013, from the
    anomalies and harmonics (``[time, lat, lon, term]``) at ``dates``.

    ``pooled``: one set of coefficients fitted to all cells together (shared, like a network's
    weights), repeated for every cell.
    """
    starts = np.arange(INPUT_STEPS - 1, len(dates) - 1)
    starts = starts[dates[starts + 1] < TRAIN_END]  # [sample]
    history = np.stack([anomaly[starts - k] for k in range(INPUT_STEPS)], axis=1)
    inputs = features(history, seasonal[starts + 1])  # [sample, lat, lon, feature]
    targets = anomaly[starts + 1]  # [sample, lat, lon]
    ridge = RIDGE * np.eye(inputs.shape[-1])
    grams, moments = [], []
    for row in range(inputs.shape[1]):  # one latitude row at a time: batched normal equations
        x = inputs[:, row].transpose(1, 0, 2)  # [lon, sample, feature]
        y = targets[:, row].T[..., None]  # [lon, sample, 1]
        grams.append(x.transpose(0, 2, 1) @ x)  # [lon, feature, feature]
        moments.append(x.transpose(0, 2, 1) @ y)  # [lon, feature, 1]
    gram, moment = np.stack(grams), np.stack(moments)  # [lat, lon, feature, feature | 1]
    if pooled:
        shared = np.linalg.solve(gram.sum(axis=(0, 1)) + ridge, moment.sum(axis=(0, 1)))
        return np.broadcast_to(shared[:, 0], inputs.shape[1:]).copy()
    return np.linalg.solve(gram + ridge, moment)[..., 0]


def forecast(
    anomaly: np.ndarray, seasonal: np.ndarray, coefficients: np.ndarray, inits: np.ndarray
) -> np.ndarray:
    """``[init, lead, lat, lon]`` anomalies, each step fed back as the newest input."""
    history = np.stack([anomaly[inits - k] for k in range(INPUT_STEPS)], axis=1)
    leads = []
    for lead in range(1, LEAD_STEPS + 1):
        inputs = features(history, seasonal[inits + lead])
        predicted = np.einsum("snmf,nmf->snm", inputs, coefficients)  # [init, lat, lon]
        history = np.concatenate([predicted[:, None], history[:, :-1]], axis=1)
        leads.append(predicted)
    return np.stack(leads, axis=1)


def init_indices(dates: np.ndarray) -> np.ndarray:
    """Store indices of the skill benchmark's 720 initial times: 00 and 12 UTC of 2014 to
    2014-12-26T12, the last whose 120 h window the data cover."""
    hours = (dates - dates.astype("datetime64[D]")).astype(np.int64) // 3600
    return np.flatnonzero((dates >= FIRST_INIT) & (dates <= LAST_INIT) & (hours % 12 == 0))


def write_forecast(
    path: Path,
    view: StoreView,
    values: np.ndarray,
    inits: np.ndarray,
    *,
    model: str,
    arguments: dict,
    input_steps: int,
) -> Path:
    """Write ``values`` ``[init, lead, cell]`` as a complete wx forecast (zarr) at ``path``."""
    step = (view.dates[1] - view.dates[0]).astype("timedelta64[s]")
    layout = ForecastLayout(
        variables=(VARIABLE,),
        variable_attributes={VARIABLE: cf.variable_attributes(VARIABLE, None)},
        init_times=view.dates[inits],
        lead_times=step * np.arange(1, LEAD_STEPS + 1),
        latitudes=np.asarray(view.latitudes),
        longitudes=np.asarray(view.longitudes),
        grid_shape=tuple(view.grid_shape),
        header={
            "format": FORECAST_FORMAT,
            "format_version": FORECAST_FORMAT_VERSION,
            "checkpoint": None,
            "model": model,
            "fitted_on": "2013",
            "arguments": arguments,
            "time_step": "6h",
            "input_steps": input_steps,
        },
    )
    with ZarrForecastWriter(path=path, layout=layout, overwrite=True) as writer:
        for init in range(values.shape[0]):
            for lead in range(values.shape[1]):
                writer.write(init, lead, values[init, lead].reshape(1, -1))
        return writer.close()  # marks it complete and moves it into place


def open_store(arguments: argparse.Namespace) -> StoreView:
    """Resolve ``--output`` and ``--dataset`` (default OUTPUT/ncep-air.zarr), build the store if
    it is missing, and open it."""
    arguments.output = arguments.output.resolve()
    arguments.dataset = (arguments.dataset or arguments.output / "ncep-air.zarr").resolve()
    ensure_dataset(arguments.dataset, arguments.output / "logs")
    return StoreView(arguments.dataset)


def report(benchmark: str, settings: dict, table: dict, started: float) -> None:
    """Print the reference's one JSON line: its settings and its full-domain RMSE table."""
    print(
        json.dumps(
            {
                "benchmark": benchmark,
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "model": settings,
                "climatology_period": CLIMATOLOGY_PERIOD,
                "machine": machine(),
                "rmse_K_full_domain": table,
                "total_wall_s": round(time.perf_counter() - started, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPOSITORY.parent / "skill-runs" / "linear")
    parser.add_argument("--dataset", type=Path, default=None, help="default: OUTPUT/ncep-air.zarr")
    parser.add_argument("--pooled", action="store_true", help="one regression for all cells")
    parser.add_argument(
        "--annual-harmonics", type=int, default=1, help="annual harmonics of the basis (1)"
    )
    arguments = parser.parse_args()
    started = time.perf_counter()
    view = open_store(arguments)
    dates = np.asarray(view.dates).astype("datetime64[s]")
    fields = np.asarray(view[0 : len(view)])[:, view.name_to_index[VARIABLE], 0, :]
    grid = fields.reshape(len(dates), *view.grid_shape).astype(np.float64)  # [time, lat, lon]
    mean = grid[dates < TRAIN_END].mean(axis=0)  # [lat, lon]
    scale = grid[dates < TRAIN_END].std()
    anomaly = (grid - mean) / scale  # [time, lat, lon]
    log(
        f"fitting {'one ridge regression for all cells' if arguments.pooled else 'a ridge regression per cell'} on 2013"
    )
    latitudes = np.asarray(view.latitudes).reshape(view.grid_shape)
    seasonal = harmonics(
        dates,
        latitudes,
        np.asarray(view.longitudes).reshape(view.grid_shape),
        annual_harmonics=arguments.annual_harmonics,
    )
    coefficients = fit(anomaly, seasonal, dates, pooled=arguments.pooled)
    name = "linear-pooled" if arguments.pooled else "linear"
    inits = init_indices(dates)
    log(f"forecasting {inits.size} initial times to {6 * LEAD_STEPS} h")
    values = forecast(anomaly, seasonal, coefficients, inits) * scale + mean[None, None]
    settings = {
        "radius": RADIUS,
        "input_steps": INPUT_STEPS,
        "ridge": RIDGE,
        "pooled": arguments.pooled,
        "annual_harmonics": arguments.annual_harmonics,
    }
    path = write_forecast(
        arguments.output / "forecasts" / f"{name}.zarr",
        view,
        values.reshape(*values.shape[:2], -1),  # [init, lead, lat, lon] -> [init, lead, cell]
        inits,
        model="per-cell ridge autoregression (benchmarks/linear_ncep.py)",
        arguments=settings,
        input_steps=INPUT_STEPS,
    )
    table = rmse_table(score(path, arguments.output / "scores" / name, arguments))
    report("linear_ncep", settings, table, started)


if __name__ == "__main__":
    main()
