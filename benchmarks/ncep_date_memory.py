#!/usr/bin/env python
"""Does a forecast of 2014 remember the weather of 2013? A diagnostic for benchmarks/skill_ncep.py.

A model trained on a single year can learn that year's slow weather (a cold fortnight, a warm
month) as a function of the date, and forecast it again a year later. For each lead time this
prints two anomaly correlations of the forecast anomaly ``f'`` (uncentred and area-weighted like
WeatherBench 2's ACC, Rasp et al. 2024, but pooled over all forecasts instead of averaged per
initial time):

- with the truth anomaly it forecasts, ``o'`` (2014): the skill;
- with the truth anomaly of the training year on the same calendar day and hour, ``o'_2013``
  (365 days earlier): the memory. The two years' anomalies are themselves uncorrelated, so a
  forecast correlated with ``o'_2013`` carries 2013's weather, which is noise in 2014.

Anomalies are taken from each cell's harmonic climatology fitted to 2013 with
:class:`wx_models.climatology.HarmonicClimatology` (one annual harmonic: a smooth seasonal cycle
that leaves 2013's slow weather in the anomalies).

Prints one JSON line on stdout (progress on stderr).
Usage: uv run python benchmarks/ncep_date_memory.py FORECAST.zarr [...] [--dataset PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from linear_ncep import TRAIN_END, VARIABLE
from skill_ncep import REPOSITORY, log, machine

from wx_datasets.forcings import compute_forcings
from wx_datasets.view import StoreView
from wx_models.climatology import ANGLE_FORCINGS, HarmonicClimatology, harmonic_basis

LEADS_HOURS = (24, 72, 120)
YEAR = np.timedelta64(365, "D")  # 2013 and 2014 are common years: same calendar day


def air_truth(view: StoreView) -> tuple[np.ndarray, np.ndarray]:
    """The store's dates (datetime64[s]) and its air temperature ``[time, cell]`` (float64)."""
    dates = np.asarray(view.dates).astype("datetime64[s]")
    truth = np.asarray(view[0 : len(view)])[:, view.name_to_index[VARIABLE], 0, :]
    return dates, truth.astype(np.float64)  # [time, cell]


def climatology_fit(view: StoreView, truth: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """``[time, cell]``: each cell's harmonic climatology (one annual harmonic and the diurnal
    terms) fitted to 2013, at every date of the store."""
    latitudes = np.asarray(view.latitudes)
    angles = compute_forcings(ANGLE_FORCINGS, dates, latitudes, np.asarray(view.longitudes))
    angles = np.moveaxis(angles, 1, -1).astype(np.float64)  # [time, 4, cell] -> [time, cell, 4]
    climatology = HarmonicClimatology(
        variables=[VARIABLE],
        num_cells=truth.shape[1],
        angle_columns=range(4),
        step_seconds=float((dates[1] - dates[0]).astype(np.int64)),
        annual_harmonics=1,
    )
    train = dates < TRAIN_END
    climatology.fit(truth[train, :, None], angles[train])
    basis = harmonic_basis(*torch.as_tensor(angles).unbind(-1), annual_harmonics=1)
    coefficients = climatology.coefficients.double()[:, 0]  # [cell, term]
    return torch.einsum("tck,ck->tc", basis, coefficients).numpy()  # [time, cell]


def correlation(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> float:
    """Uncentred area-weighted correlation of ``a`` and ``b`` ``[sample, cell]``."""
    return float(
        (a * b * weights).sum() / np.sqrt((a * a * weights).sum() * (b * b * weights).sum())
    )


def memory(path: Path, view: StoreView, anomaly: np.ndarray, fitted: np.ndarray) -> dict:
    forecast = xr.open_zarr(path)[VARIABLE]
    if forecast.shape[-2:] != tuple(view.grid_shape):
        raise ValueError(
            f"{path}: forecast grid {forecast.shape[-2:]}, expected the store's {view.grid_shape}"
        )
    values = forecast.values.reshape(*forecast.shape[:2], -1)  # [init, lead, lat, lon] -> cells
    dates = np.asarray(view.dates).astype("datetime64[s]")
    position = {date: i for i, date in enumerate(dates)}
    valid = forecast.valid_time.values.astype("datetime64[s]")  # [init, lead]
    lead_hours = (forecast.lead_time.values / np.timedelta64(1, "h")).astype(int).tolist()
    weights = np.cos(np.deg2rad(np.asarray(view.latitudes)))
    weights = weights / weights.sum()  # [cell]
    result = {
        "lead_hours": [],
        "acc": [],
        "acc_with_2013": [],
        "anomaly_rms_K": [],
        "truth_acc_with_2013": [],  # 2014's anomalies against 2013's: near zero
    }
    for hours in LEADS_HOURS:
        lead = lead_hours.index(hours)
        now = np.array([position[date] for date in valid[:, lead]])
        before = np.array([position.get(date - YEAR, -1) for date in valid[:, lead]])
        kept = before >= 0
        predicted = values[kept, lead] - fitted[now[kept]]  # [init, cell]
        result["lead_hours"].append(hours)
        result["acc"].append(round(correlation(predicted, anomaly[now[kept]], weights), 3))
        result["acc_with_2013"].append(
            round(correlation(predicted, anomaly[before[kept]], weights), 3)
        )
        result["truth_acc_with_2013"].append(
            round(correlation(anomaly[now[kept]], anomaly[before[kept]], weights), 3)
        )
        rms = np.sqrt((predicted**2 * weights).sum(axis=1).mean())
        result["anomaly_rms_K"].append(round(float(rms), 3))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("forecasts", type=Path, nargs="+", help="wx forecasts (zarr) of 2014")
    parser.add_argument(
        "--dataset", type=Path, default=REPOSITORY.parent / "skill-runs" / "ncep" / "ncep-air.zarr"
    )
    arguments = parser.parse_args()
    started = time.perf_counter()
    view = StoreView(arguments.dataset)
    dates, truth = air_truth(view)
    log("fitting each cell's seasonal and diurnal cycle to 2013")
    fitted = climatology_fit(view, truth, dates)
    anomaly = truth - fitted
    results = {}
    for path in arguments.forecasts:
        log(f"scoring {path}")
        results[str(path)] = memory(path, view, anomaly, fitted)
    print(
        json.dumps(
            {
                "benchmark": "ncep_date_memory",
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "dataset": str(arguments.dataset),
                "forecasts": results,
                "machine": machine(),
                "total_wall_s": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
