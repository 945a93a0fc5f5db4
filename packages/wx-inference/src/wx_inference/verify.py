"""Score a forecast file against a truth dataset, beside the persistence and climatology baselines.

Per variable and lead time: RMSE, bias and ACC of the forecast (of the ensemble mean for an
ensemble, plus CRPS, spread and spread/skill), of persistence and of climatology, with the
definitions of :mod:`wx_inference.scores` (WeatherBench 2, Rasp et al. 2024). The climatology
comes from a period of the truth (:mod:`wx_inference.climatology`); by default every truth date
before the first initial time, so it never sees the verifying analyses. Cells outside a regional
forecast's ``interior_mask`` (where values were copied from the boundary dataset) are not scored.
When the truth has several members, ``truth_member`` (default 0, the control) is the truth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wx_graphs.regions import Area
from wx_inference import scores
from wx_inference.climatology import (
    DEFAULT_WINDOW_DAYS,
    Climatology,
    climatology_forecast,
    compute_climatology,
    persistence_forecast,
)
from wx_inference.grids import match_cells
from wx_inference.inputs import InputSource
from wx_utils.dates import parse_datetime
from wx_utils.metadata import atomic_write_text
from wx_utils.progress import progress

LOG = logging.getLogger(__name__)


class VerificationError(ValueError):
    """A forecast and truth that cannot be scored together."""


@dataclass(frozen=True)
class ForecastGrid:
    """The flat cells of a forecast file and what is scored."""

    latitudes: np.ndarray  # [cell]
    longitudes: np.ndarray  # [cell]
    grid_shape: tuple[int, int] | None
    scored: np.ndarray  # [cell] bool, False at boundary cells of a regional forecast


@dataclass
class ScoreTable:
    """Scores per (variable, forecast kind, metric): arrays over lead time."""

    lead_hours: np.ndarray  # [lead]
    values: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def add(self, variable: str, kind: str, metrics: dict[str, np.ndarray]) -> None:
        self.values.setdefault(variable, {})[kind] = metrics

    def records(self) -> list[dict[str, Any]]:
        rows = []
        for variable, kinds in self.values.items():
            for kind, metrics in kinds.items():
                for metric, series in metrics.items():
                    for hours, value in zip(self.lead_hours, series, strict=True):
                        rows.append(
                            {
                                "variable": variable,
                                "forecast": kind,
                                "metric": metric,
                                "lead_time_hours": float(hours),
                                "value": float(value),
                            }
                        )
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_time_hours": self.lead_hours.tolist(),
            "scores": {
                v: {k: {m: s.tolist() for m, s in ms.items()} for k, ms in kinds.items()}
                for v, kinds in self.values.items()
            },
            "metadata": self.metadata,
        }

    def write(self, folder: Path) -> tuple[Path, Path]:
        """``scores.csv`` (one row per value) and ``scores.json`` (series per lead time)."""
        import pandas as pd

        folder.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = folder / "scores.csv", folder / "scores.json"
        atomic_write_text(csv_path, pd.DataFrame(self.records()).to_csv(index=False))
        atomic_write_text(json_path, json.dumps(self.to_json(), indent=2, default=str) + "\n")
        return csv_path, json_path


def forecast_grid(
    forecast: Any, *, area: Sequence[float] | None = None, all_cells: bool = False
) -> ForecastGrid:
    """Flat cells (row-major on a regular grid) of an opened forecast file.

    The scored cells are the forecast's interior (all cells without an ``interior_mask``, or
    with ``all_cells``), and of those the ones inside ``area`` (north, west, south, east).
    """
    if "cell" in forecast.dims:
        latitudes = np.asarray(forecast["latitude"].values, dtype=np.float64)
        longitudes = np.asarray(forecast["longitude"].values, dtype=np.float64)
        shape = None
    else:
        lat = np.asarray(forecast["latitude"].values, dtype=np.float64)
        lon = np.asarray(forecast["longitude"].values, dtype=np.float64)
        latitudes, longitudes = np.repeat(lat, lon.size), np.tile(lon, lat.size)
        shape = (lat.size, lon.size)
    scored = np.ones(latitudes.size, dtype=bool)
    if "interior_mask" in forecast and not all_cells:
        scored = np.asarray(forecast["interior_mask"].values).reshape(-1) > 0
    if area is not None:
        box = Area.parse(list(area), key="area")
        scored &= box.contains(latitudes, longitudes)
        if not scored.any():
            raise VerificationError(
                f"area {box.as_list()} (north, west, south, east): no scored forecast cell "
                f"inside (forecast latitudes {latitudes.min():g}..{latitudes.max():g}, "
                f"longitudes {longitudes.min():g}..{longitudes.max():g})"
            )
    return ForecastGrid(latitudes, longitudes, shape, scored)


def forecast_variables(forecast: Any) -> list[str]:
    return [name for name in forecast.data_vars if "lead_time" in forecast[name].dims]


def flat_values(forecast: Any, name: str) -> np.ndarray:
    """``[init, lead, (member), cell]`` float64 values of a forecast variable."""
    array = forecast[name]
    values = np.asarray(array.values, dtype=np.float64)
    spatial = 2 if "latitude" in array.dims and "cell" not in array.dims else 1
    return values.reshape(*values.shape[: values.ndim - spatial], -1)


def _parse_period(period: Any, truth: InputSource, first_init: np.datetime64):
    """The climatology dates of ``truth`` for ``period`` (None: before the first init)."""
    if period in ("none", "None", False):
        return None
    if period is None:
        dates = truth.dates[truth.dates < first_init]
        if dates.size == 0:
            raise VerificationError(
                f"truth {truth.path} has no date before the first initial time {first_init} to "
                "build a climatology; give a climatology period START/END, or 'none' to skip "
                "ACC and the climatology baseline"
            )
        return dates
    start, end = period.split("/") if isinstance(period, str) else period
    start, end = parse_datetime(start), parse_datetime(end)
    dates = truth.dates[(truth.dates >= start) & (truth.dates <= end)]
    if dates.size == 0:
        raise VerificationError(f"truth {truth.path} has no date in the period {start}/{end}")
    return dates


def truth_fields(
    truth: InputSource, dates: np.ndarray, name: str, order: np.ndarray | None, member: int
) -> np.ndarray:
    """Truth ``[time, cell]`` (in forecast cell order) of ``name`` at ``dates``."""
    if member >= truth.ensemble_size:
        raise VerificationError(
            f"truth {truth.path} has {truth.ensemble_size} member(s), no member {member}"
        )
    values = truth.read(dates, [name])[:, 0, member].astype(np.float64)  # [time, cell]
    return values if order is None else values[:, order]


def score_forecast(
    forecast: Any,
    truth: InputSource,
    *,
    climatology_period: Any = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    truth_member: int = 0,
    variables: list[str] | None = None,
    area: Sequence[float] | None = None,
    all_cells: bool = False,
) -> tuple[ScoreTable, dict[str, Climatology]]:
    """Scores of an opened forecast file (see :func:`wx_inference.output.open_forecast`).

    ``area`` (north, west, south, east) scores only the cells inside that box; ``all_cells``
    scores a regional forecast's boundary cells too (see :func:`forecast_grid`).
    """
    grid = forecast_grid(forecast, area=area, all_cells=all_cells)
    order = match_cells(
        expected_latitudes=grid.latitudes,
        expected_longitudes=grid.longitudes,
        latitudes=truth.latitudes,
        longitudes=truth.longitudes,
        what="truth",
    )
    weights = _weights(grid, truth, order)
    init_times = np.asarray(forecast["init_time"].values).astype("datetime64[s]")
    lead_times = np.asarray(forecast["lead_time"].values).astype("timedelta64[s]")
    valid = init_times[:, None] + lead_times[None, :]  # [init, lead]
    names = variables or forecast_variables(forecast)
    truth.check_variables(names, purpose="scoring")
    truth.date_indices(valid.reshape(-1), purpose="the verifying truth at the valid times")
    period = _parse_period(climatology_period, truth, init_times.min())
    table = ScoreTable(lead_hours=lead_times.astype(np.int64) / 3600.0)
    table.metadata = {
        "truth": truth.description,
        "truth_member": truth_member,
        "climatology_period": None if period is None else [str(period.min()), str(period.max())],
        "climatology_window_days": window_days,
        "scored_cells": int(grid.scored.sum()),
        "scored_area": None if area is None else [float(v) for v in area],
        "all_cells": bool(all_cells),
        "init_times": [str(t) for t in init_times],
    }
    climatologies = {}
    for name in progress(names, description="scoring", unit="variable"):
        fields = variable_fields(
            forecast, truth, name, order, truth_member, init_times, valid, grid
        )
        climatology = None
        if period is not None:
            climatologies[name] = compute_climatology(
                period,
                truth_fields(truth, period, name, order, truth_member)[:, grid.scored],
                window_days=window_days,
            )
            climatology = climatology_forecast(climatologies[name], valid)
        _score_variable(table, name, fields, weights, climatology)
    return table, climatologies


@dataclass(frozen=True)
class VariableFields:
    """Forecast, truth and persistence of one variable on the scored cells."""

    forecast: np.ndarray  # [init, lead, (member), cell]
    truth: np.ndarray  # [init, lead, cell]
    persistence: np.ndarray  # [init, lead, cell]


def variable_fields(forecast, truth, name, order, member, init_times, valid, grid):
    """The arrays that score one variable (truth read once per distinct valid time)."""
    scored = grid.scored
    unique, inverse = np.unique(valid.reshape(-1), return_inverse=True)
    at_valid = truth_fields(truth, unique, name, order, member)[:, scored]
    at_init = truth_fields(truth, init_times, name, order, member)[:, scored]
    return VariableFields(
        forecast=flat_values(forecast, name)[..., scored],
        truth=at_valid[inverse].reshape(*valid.shape, -1),  # [init, lead, cell]
        persistence=persistence_forecast(at_init, valid.shape[1]),
    )


def _weights(grid: ForecastGrid, truth: InputSource, order: np.ndarray | None) -> np.ndarray:
    if grid.grid_shape is not None:
        weights = scores.cell_weights(grid.latitudes, grid_shape=grid.grid_shape)
    else:
        area = truth.area_weight
        if area is None:
            raise VerificationError(
                f"forecast on an unstructured grid: truth {truth.path} has no area_weight"
            )
        weights = np.asarray(area, dtype=np.float64)
        weights = weights if order is None else weights[order]
    return scores.normalise_weights(weights[grid.scored])


def _score_variable(table, name, fields: VariableFields, weights, climatology) -> None:
    if fields.forecast.ndim == 4:
        table.add(
            name,
            "model",
            scores.ensemble_scores(fields.forecast, fields.truth, weights, climatology),
        )
    else:
        table.add(
            name,
            "model",
            scores.deterministic_scores(fields.forecast, fields.truth, weights, climatology),
        )
    table.add(
        name,
        "persistence",
        scores.deterministic_scores(fields.persistence, fields.truth, weights, climatology),
    )
    if climatology is not None:
        # ACC of the climatology itself is 0/0: only RMSE and bias are defined
        table.add(
            name, "climatology", scores.deterministic_scores(climatology, fields.truth, weights)
        )
