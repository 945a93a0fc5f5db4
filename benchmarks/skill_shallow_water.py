#!/usr/bin/env python
"""Benchmark wx skill: RMSE by lead time of the global shallow-water example model against
persistence and climatology, to 120 h, for z, u, v, vorticity and divergence.

End to end, with the command-line tools a user would run:

1. builds the shallow-water store (``wx-datasets create examples/datasets/shallow-water.yaml``:
   wx-datasets' forced rotating shallow-water model, T42 Gaussian grid, 64 x 128 = 8192 cells,
   6-hourly, one year) unless it exists;
2. trains the packaged config ``shallow_water_tiny`` on January-October on the CPU
   (``wx-training train``);
3. forecasts to 120 h from every 84 h (alternately 00 and 12 UTC) from 2000-11-01T00 to
   2000-12-23T12, 16 initial times in the validation months (``wx-inference run
   examples/inference/shallow-water-global.yaml``, zarr output);
4. scores them (``wx-inference score`` and its ``scores.csv``) against the truth.

Scores (WeatherBench 2 definitions, :mod:`wx_inference.scores`): RMSE per lead time (6 h steps
to 120 h), latitude-weighted (cell-area weights of the Gaussian grid from midpoint bounds,
normalised to mean 1), the square root taken after averaging over the initial times, over the
whole globe. Baselines: *persistence* is the truth at the initial time; *climatology* is the
January-October mean for the valid time's day of year and hour of day with a 181-day window (the
model's forced climate is steady; a 61-day window would leave early December without samples).

Prints one JSON line on stdout (progress on stderr) and draws RMSE against lead time (PNG).
Usage: uv run python benchmarks/skill_shallow_water.py [--output DIR] [--dataset PATH]
           [--steps N] [--threads 1] [--plot PNG] [--override KEY=VALUE ...] [--reuse]
Quick run (a smoke test): --quick (20 steps, 2 initial times)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from skill_ncep import (
    KINDS,
    REPOSITORY,
    ensure_dataset,
    log,
    machine,
    rmse_table,
    run_tool,
    save_figure,
    tool,
    train_config,
)

RECIPE = REPOSITORY / "examples" / "datasets" / "shallow-water.yaml"
RUN_CONFIG = REPOSITORY / "examples" / "inference" / "shallow-water-global.yaml"
CONFIG_NAME = "shallow_water_tiny"
VARIABLES = ("z", "u", "v", "vorticity", "divergence")
INIT_DATES = {"start": "2000-11-01T00:00", "end": "2000-12-23T12:00", "frequency": "84h"}
QUICK_INIT_END = "2000-11-04T12:00"
CLIMATOLOGY_PERIOD = "2000-01-01T00:00/2000-10-31T18:00"
WINDOW_DAYS = "181"
QUICK_TRAINING = [
    "training.max_steps=20",
    "training.rollout={start: 1, maximum: 1, every: 10, increment: 1}",
    "training.validation={every: 1000, rollout: 1, batch_size: 1, max_batches: 1, plots: false}",
]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_output = REPOSITORY.parent / "skill-runs" / "shallow-water"
    parser.add_argument("--output", type=Path, default=default_output)
    parser.add_argument("--dataset", type=Path, default=None, help="default: OUTPUT/sw.zarr")
    parser.add_argument("--steps", type=int, default=None, help="training steps (config's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--plot", type=Path, default=None, help="default: OUTPUT/skill-sw.png")
    parser.add_argument("--override", action="append", default=[], help="training override")
    parser.add_argument("--reuse", action="store_true", help="reuse the run and forecast in OUTPUT")
    parser.add_argument("--quick", action="store_true", help="smoke test: 20 steps, 2 forecasts")
    arguments = parser.parse_args()
    arguments.output = arguments.output.resolve()
    arguments.dataset = (arguments.dataset or arguments.output / "shallow-water.zarr").resolve()
    arguments.plot = (arguments.plot or arguments.output / "skill-shallow-water.png").resolve()
    return arguments


def train(arguments: argparse.Namespace) -> dict:
    """Train ``shallow_water_tiny``; returns wall time and checkpoint (reused with ``--reuse``)."""
    return train_config(
        arguments,
        config_name=CONFIG_NAME,
        run_dir=arguments.output / "runs" / "model",
        name="shallow-water-skill",
        extra=["tracking=off"],
        quick=QUICK_TRAINING,
    )


def forecast(checkpoint: str, arguments: argparse.Namespace) -> dict:
    path = arguments.output / "forecasts" / "model.zarr"
    record = path.with_suffix(".json")
    if arguments.reuse and record.is_file() and path.exists():
        log(f"reusing the forecast {path}")
        return json.loads(record.read_text())
    dates = {**INIT_DATES, **({"end": QUICK_INIT_END} if arguments.quick else {})}
    command = [
        *tool("inference"), "run", str(RUN_CONFIG), f"checkpoint={checkpoint}",
        f"input={arguments.dataset}", f"output={path}", "format=zarr", "lead_time=120h",
        "overwrite=true", f"threads={arguments.threads}",
        *[f"init_dates.{key}='{value}'" for key, value in dates.items()],
    ]  # fmt: skip
    seconds, _ = run_tool(command, arguments.output / "logs" / "forecast.log", arguments.threads)
    result = {"path": str(path), "forecast_wall_s": round(seconds, 1)}
    record.write_text(json.dumps(result, indent=2) + "\n")
    return result


def score(path: Path, arguments: argparse.Namespace) -> Path:
    folder = arguments.output / "scores"
    command = [
        *tool("inference"), "score", str(path), "--truth", str(arguments.dataset),
        "--climatology-period", CLIMATOLOGY_PERIOD, "--window-days", WINDOW_DAYS,
        "--variables", *VARIABLES, "--map-leads", "6h,48h,120h", "--output", str(folder),
    ]  # fmt: skip
    run_tool(command, arguments.output / "logs" / "score.log")
    return folder / "scores.csv"


def plot(tables: dict, path: Path) -> Path:
    """RMSE against lead time of the model and both baselines, one panel per variable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(tables), figsize=(3.6 * len(tables), 3.6), squeeze=False)
    styles = {"model": ("o-", "tab:blue"), "persistence": ("s--", "0.45"),
              "climatology": (":", "tab:green")}  # fmt: skip
    for axis, (variable, table) in zip(axes[0], tables.items(), strict=True):
        for kind in KINDS:
            marker, colour = styles[kind]
            axis.plot(table["lead_hours"], table[kind], marker, ms=3, color=colour, label=kind)
        axis.set(title=variable, xlabel="lead time (h)", xticks=range(0, 121, 24))
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("RMSE")
    axes[0][0].legend(fontsize=8, loc="lower right")
    figure.suptitle("Global shallow water, forecasts of November-December: RMSE by lead time")
    return save_figure(figure, path, dpi=100)


def leads_below_both(table: dict) -> list[int]:
    """Lead times (h) at which the model's RMSE is below persistence's and climatology's."""
    rows = zip(table["lead_hours"], *(table[kind] for kind in KINDS), strict=True)
    return [round(hours) for hours, model, *baselines in rows if model < min(baselines)]


def main() -> None:
    arguments = parse_arguments()
    arguments.output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ensure_dataset(arguments.dataset, arguments.output / "logs", recipe=RECIPE)
    run = train(arguments)
    made = forecast(run["checkpoint"], arguments)
    scores_csv = score(Path(made["path"]), arguments)
    tables = {variable: rmse_table(scores_csv, variable) for variable in VARIABLES}
    figures = {
        "benchmark": "skill_shallow_water",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": arguments.quick,
        "config": CONFIG_NAME,
        "machine": machine(),
        "rmse": tables,
        "leads_below_both_baselines": {v: leads_below_both(t) for v, t in tables.items()},
        "training": {k: run[k] for k in ("train_wall_s", "steps", "final_loss")},
        "forecast_wall_s": made["forecast_wall_s"],
        "plot": str(plot(tables, arguments.plot)),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
