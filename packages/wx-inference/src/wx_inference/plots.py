"""PNG plots of scores against lead time and of forecast, truth and error maps (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wx_inference.verify import ScoreTable

METRIC_LABELS = {
    "rmse": "RMSE",
    "bias": "bias (forecast - truth)",
    "acc": "anomaly correlation",
    "crps": "CRPS (fair)",
    "spread_skill": "spread / skill",
    "spread": "spread",
}
STYLES = {
    "model": {"color": "tab:blue", "marker": "o"},
    "persistence": {"color": "tab:orange", "linestyle": "--"},
    "climatology": {"color": "tab:green", "linestyle": ":"},
}


def plot_scores(table: ScoreTable, variable: str, path: Path, *, units: str = "") -> Path:
    """One panel per metric: the forecast and its baselines against lead time."""
    kinds = table.values[variable]
    metrics = [m for m in METRIC_LABELS if any(m in series for series in kinds.values())]
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for kind, series in kinds.items():
            if metric in series:
                axis.plot(table.lead_hours, series[metric], label=kind, **STYLES.get(kind, {}))
        if metric == "spread_skill":
            axis.axhline(1.0, color="grey", linewidth=0.8)
        if metric == "bias":
            axis.axhline(0.0, color="grey", linewidth=0.8)
        unit = f" [{units}]" if units and metric in ("rmse", "bias", "crps", "spread") else ""
        axis.set(xlabel="lead time [h]", title=f"{variable}: {METRIC_LABELS[metric]}{unit}")
        axis.grid(alpha=0.3)
    axes[0][0].legend()
    figure.tight_layout()
    return _save(figure, path)


def plot_maps(
    *,
    latitudes: np.ndarray,
    longitudes: np.ndarray,
    grid_shape: tuple[int, int] | None,
    panels: list[tuple[str, np.ndarray | None, np.ndarray | None]],
    title: str,
    units: str,
    path: Path,
    scored: np.ndarray | None = None,
) -> Path:
    """Rows of (forecast, truth, error) maps; ``panels`` = [(label, forecast, truth)] ``[cell]``.

    ``scored`` ``[cell]`` masks the error outside a regional forecast's interior.
    """
    columns = 3 if any(truth is not None for _, _, truth in panels) else 1
    height = 0.9 + 3.0 * len(panels)  # inches: 0.5 above for the title, 0.4 below for labels
    figure, axes = plt.subplots(
        len(panels), columns, figsize=(4.6 * columns, height), squeeze=False
    )
    fields = [f for _, forecast, truth in panels for f in (forecast, truth) if f is not None]
    low, high = np.nanmin(fields), np.nanmax(fields)
    for row, (label, forecast, truth) in enumerate(panels):
        _map(
            axes[row][0],
            latitudes,
            longitudes,
            grid_shape,
            forecast,
            (low, high),
            "viridis",
            f"forecast {label}",
            units,
        )
        if columns == 3 and truth is not None:
            _map(
                axes[row][1],
                latitudes,
                longitudes,
                grid_shape,
                truth,
                (low, high),
                "viridis",
                f"truth {label}",
                units,
            )
            error = forecast - truth
            if scored is not None:
                error = np.where(scored, error, np.nan)
            limit = float(np.nanmax(np.abs(error))) or 1.0
            _map(
                axes[row][2],
                latitudes,
                longitudes,
                grid_shape,
                error,
                (-limit, limit),
                "RdBu_r",
                f"error {label}",
                units,
            )
    figure.suptitle(title)
    figure.subplots_adjust(
        left=0.06, right=0.97, bottom=0.45 / height, top=1 - 0.6 / height, wspace=0.25, hspace=0.45
    )
    return _save(figure, path)


def _map(axis, latitudes, longitudes, grid_shape, values, limits, colormap, title, units):
    if grid_shape is not None:
        nlat, nlon = grid_shape
        lat = latitudes.reshape(nlat, nlon)[:, 0]
        lon = longitudes.reshape(nlat, nlon)[0]
        image = axis.pcolormesh(
            lon,
            lat,
            values.reshape(nlat, nlon),
            cmap=colormap,
            vmin=limits[0],
            vmax=limits[1],
            shading="nearest",
        )
    else:
        image = axis.scatter(
            longitudes, latitudes, c=values, s=4, cmap=colormap, vmin=limits[0], vmax=limits[1]
        )
    axis.set(title=title, xlabel="longitude [deg]", ylabel="latitude [deg]")
    axis.figure.colorbar(image, ax=axis, label=units, shrink=0.85)


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def forecast_maps(
    forecast,
    variable: str,
    path: Path,
    *,
    truth=None,
    init_index: int = 0,
    lead_indices: list[int] | None = None,
    member: int | None = None,
) -> Path:
    """Maps of ``variable`` at ``lead_indices`` of one initial time, with truth and error.

    ``forecast`` is an opened forecast file, ``truth`` an input source (or None for the
    forecast alone); an ensemble shows ``member`` or, by default, the ensemble mean.
    """
    from wx_inference.grids import match_cells
    from wx_inference.verify import flat_values, forecast_grid, truth_fields

    grid = forecast_grid(forecast)
    values = flat_values(forecast, variable)[init_index]  # [lead, (member), cell]
    if values.ndim == 3:
        values = values.mean(axis=1) if member is None else values[:, member]
    leads = lead_indices if lead_indices is not None else default_lead_indices(values.shape[0])
    init_time = np.asarray(forecast["init_time"].values).astype("datetime64[s]")[init_index]
    lead_times = np.asarray(forecast["lead_time"].values).astype("timedelta64[s]")
    truth_values = None
    if truth is not None:
        order = match_cells(
            expected_latitudes=grid.latitudes,
            expected_longitudes=grid.longitudes,
            latitudes=truth.latitudes,
            longitudes=truth.longitudes,
            what="truth",
        )
        truth_values = truth_fields(truth, init_time + lead_times[leads], variable, order, 0)
    panels = []
    for position, lead in enumerate(leads):
        hours = int(lead_times[lead].astype(np.int64)) / 3600
        expected = None if truth_values is None else truth_values[position]
        panels.append((f"+{hours:g} h", values[lead], expected))
    units = str(forecast[variable].attrs.get("units", ""))
    which = "ensemble mean" if member is None and "member" in forecast.dims else ""
    title = f"{variable} {which} from {init_time}".replace("  ", " ")
    return plot_maps(
        latitudes=grid.latitudes,
        longitudes=grid.longitudes,
        grid_shape=grid.grid_shape,
        panels=panels,
        title=title,
        units=units,
        path=path,
        scored=grid.scored,
    )


def default_lead_indices(count: int) -> list[int]:
    """First, middle and last lead time."""
    return sorted({0, count // 2, count - 1})


def score_table_from_json(document: dict) -> ScoreTable:
    """A :class:`ScoreTable` back from ``scores.json``."""
    table = ScoreTable(lead_hours=np.asarray(document["lead_time_hours"], dtype=np.float64))
    for variable, kinds in document["scores"].items():
        for kind, metrics in kinds.items():
            table.add(variable, kind, {m: np.asarray(s) for m, s in metrics.items()})
    table.metadata = document.get("metadata", {})
    return table
