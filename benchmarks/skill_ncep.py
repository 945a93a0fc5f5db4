#!/usr/bin/env python
"""Benchmark wx skill: RMSE by lead time of the regional NCEP air-temperature model, with and
without boundary forcing, against persistence and climatology, for every forecast of 2014.

End to end, with the command-line tools a user would run:

1. builds the NCEP/NCAR air-temperature store (``wx-datasets create
   examples/datasets/ncep-air-temperature.yaml``) unless it exists;
2. trains the regional model on 2013 on the CPU twice (``wx-training train``): ``open``, on
   the graph ``graph=ncep_air_open`` with no interior mask, so the model predicts the whole
   25 x 53 domain from the initial state alone; and ``forced``, on ``graph=ncep_air``, whose
   outer ring of four grid points is forced with the analysis at every step (only the 765
   interior points are predicted). Each in two stages: the packaged config ``ncep_air_skill``
   (1400 steps, rollouts of up to 6 steps), then ``ncep_air_skill_rollout`` from its weights
   (200 steps on 20-step rollouts, the whole 120 h horizon);
3. forecasts from every 00 and 12 UTC of 2014 to 120 h (``wx-inference run
   examples/inference/ncep-skill.yaml``): 720 initial times, 2014-01-01T00 to 2014-12-26T12,
   the last whose 120 h window the data still cover (they end on 2014-12-31T18);
4. scores them (``wx-inference score`` and its ``scores.csv``) against the analyses.

Scores (WeatherBench 2 definitions, :mod:`wx_inference.scores`): RMSE per lead time (6 h steps
to 120 h), latitude-weighted (cell-area weights of the regular grid, normalised to mean 1 over
the scored cells), the square root taken after averaging over the initial times. Baselines:
*persistence* is the analysis at the initial time; *climatology* is the 2013 mean for the
valid time's day of year (61-day window) and hour of day (:mod:`wx_inference.climatology`).

The open model is scored on the whole domain (``full_domain``, 1325 points): the issue's
persistence figures (2.9, 3.0 and 4.5 K at 6, 24 and 120 h) are those of the whole domain, so
its targets are checked there. Both variants are also scored on the same 765 interior points
(``interior``): the forced forecast's scorer skips its boundary by itself, and the open forecast
is scored with ``wx-inference score --area 65/210/25/320``, the box of the forced graph's
interior. Persistence and climatology are the same for both variants on the same points.

Prints one JSON line on stdout (progress on stderr) and draws RMSE against lead time (PNG).
Usage: uv run python benchmarks/skill_ncep.py [--output DIR] [--dataset PATH] [--steps N]
           [--threads 1] [--variants open,forced] [--plot PNG] [--override KEY=VALUE ...]
           [--reuse]
Quick run (a smoke test, minutes): --quick (20 steps, 4 initial times)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
RECIPE = REPOSITORY / "examples" / "datasets" / "ncep-air-temperature.yaml"
RUN_CONFIG = REPOSITORY / "examples" / "inference" / "ncep-skill.yaml"
CONFIG_NAME = "ncep_air_skill"
ROLLOUT_CONFIG_NAME = "ncep_air_skill_rollout"  # stage 2, from stage 1's weights
GRAPHS = {"open": "ncep_air_open", "forced": "ncep_air"}
CLIMATOLOGY_PERIOD = "2013-01-01T00:00/2013-12-31T18:00"
INTERIOR_AREA = "65/210/25/320"  # N/W/S/E: interior_mask of conf/graph/ncep_air.yaml
KINDS = ("model", "persistence", "climatology")
TARGETS_K = {6.0: 1.4, 24.0: 2.4, 120.0: 3.6}  # issue #10, the open (unforced) model
QUICK_TRAINING = [
    "training.max_steps=20",
    "training.rollout={start: 1, maximum: 2, every: 10, increment: 1}",
    "training.validation={every: 1000, rollout: 2, batch_size: 2, max_batches: 1, plots: false}",
]
QUICK_ROLLOUT_TRAINING = [
    "training.max_steps=4",
    "training.rollout={start: 2, maximum: 2, every: 10, increment: 1}",
    "training.validation={every: 1000, rollout: 2, batch_size: 2, max_batches: 1, plots: false}",
]
QUICK_INIT_END = "2014-01-02T12:00"


def log(message: str) -> None:
    print(f"[{Path(sys.argv[0]).stem}] {message}", file=sys.stderr, flush=True)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPOSITORY.parent / "skill-runs" / "ncep")
    parser.add_argument("--dataset", type=Path, default=None, help="default: OUTPUT/ncep-air.zarr")
    parser.add_argument("--steps", type=int, default=None, help="training steps (config's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--variants", default="open,forced")
    parser.add_argument("--plot", type=Path, default=None, help="default: OUTPUT/skill-ncep.png")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        help="training override, e.g. model.latent_size=96",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the checkpoints and forecasts already in OUTPUT"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 20 steps, 4 forecasts")
    arguments = parser.parse_args()
    arguments.output = arguments.output.resolve()
    arguments.dataset = (arguments.dataset or arguments.output / "ncep-air.zarr").resolve()
    arguments.plot = (arguments.plot or arguments.output / "skill-ncep.png").resolve()
    arguments.variants = arguments.variants.split(",")
    unknown = set(arguments.variants) - set(GRAPHS)
    if unknown or not arguments.variants:
        parser.error(f"--variants: expected some of {sorted(GRAPHS)}, got {sorted(unknown)}")
    return arguments


def run_tool(command: list[str], log_path: Path, threads: int = 1) -> tuple[float, str]:
    """Run a wx command line (its output into ``log_path``); returns wall seconds and stdout.

    ``OMP_NUM_THREADS`` also caps the threads of libraries below torch: on a small shared
    machine, threads spinning for busy cores make a forecast many times slower.
    """
    log("$ " + " ".join(command[2:] if command[1] == "-m" else command))
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment.setdefault("WX_SHARED_DATA", str(REPOSITORY.parent / "shared" / "data"))
    environment["OMP_NUM_THREADS"] = str(threads)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "w") as stderr:
        result = subprocess.run(
            command,
            cwd=REPOSITORY,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        sys.exit(
            f"{Path(sys.argv[0]).stem}: failed with status {result.returncode}; {log_path}:\n{tail}"
        )
    log(f"  done in {seconds:.0f} s (log {log_path})")
    return seconds, result.stdout


def tool(package: str) -> list[str]:
    return [sys.executable, "-m", f"wx_{package}.cli"]


def ensure_dataset(path: Path, logs: Path, recipe: Path = RECIPE) -> None:
    """Build the dataset store ``path`` from ``recipe`` unless a complete one is there."""
    header = path / "zarr.json"
    if header.is_file() and json.loads(header.read_text()).get("attributes", {}).get("wx", {}).get(
        "complete"
    ):
        log(f"reusing the dataset {path}")
        return
    command = [*tool("datasets"), "create", str(recipe), str(path), "--overwrite"]
    run_tool(command, logs / "dataset.log")


def train(variant: str, arguments: argparse.Namespace) -> dict:
    """Train one variant in two stages; returns the wall time and the stage-2 checkpoint.

    Stage 1 (``ncep_air_skill``) trains from scratch on rollouts of up to 6 steps; stage 2
    (``ncep_air_skill_rollout``) goes on from its weights on 20-step rollouts.
    """
    graph = f"graph={GRAPHS[variant]}"
    first = train_config(
        arguments,
        config_name=CONFIG_NAME,
        run_dir=arguments.output / "runs" / f"{variant}-stage1",
        name=f"ncep-skill-{variant}-stage1",
        extra=[graph],
        quick=QUICK_TRAINING,
    )
    second = train_config(
        arguments,
        config_name=ROLLOUT_CONFIG_NAME,
        run_dir=arguments.output / "runs" / variant,
        name=f"ncep-skill-{variant}",
        extra=[graph, f"fork.checkpoint={first['checkpoint']}"],
        quick=QUICK_ROLLOUT_TRAINING,
        steps=False,
    )
    return {
        **second,
        "train_wall_s": round(first["train_wall_s"] + second["train_wall_s"], 1),
        "steps": first["steps"] + second["steps"],
        "stages": {"1": first, "2": second},
    }


def train_config(
    arguments: argparse.Namespace,
    *,
    config_name: str,
    run_dir: Path,
    name: str,
    extra: list[str],
    quick: list[str],
    steps: bool = True,
) -> dict:
    """``wx-training train --config-name CONFIG_NAME`` into ``run_dir`` (reused with ``--reuse``).

    Returns the wall time, steps, final loss and inference checkpoint of the run.
    """
    record = run_dir / "skill-train.json"
    if arguments.reuse and record.is_file():
        log(f"reusing the training in {run_dir}")
        return json.loads(record.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [
        *tool("training"), "train", "--config-name", config_name, *extra,
        f"data.dataset={arguments.dataset}", f"run_dir={run_dir}", f"name={name}",
        f"hardware.num_threads={arguments.threads}",
        *(quick if arguments.quick else []),
        *([f"training.max_steps={arguments.steps}"] if arguments.steps and steps else []),
        *arguments.override,
    ]  # fmt: skip
    log_path = arguments.output / "logs" / f"train-{run_dir.name}.log"
    seconds, stdout = run_tool(command, log_path, arguments.threads)
    summary = json.loads(stdout.strip().splitlines()[-1])
    result = {
        "train_wall_s": round(seconds, 1),
        "steps": summary["step"],
        "final_loss": summary["final_loss"],
        "checkpoint": summary["inference_checkpoint"],
        "overrides": command[command.index("train") + 3 :],
    }
    record.write_text(json.dumps(result, indent=2) + "\n")
    return result


def forecast(variant: str, checkpoint: str, arguments: argparse.Namespace) -> dict:
    """Forecasts from every 00 and 12 UTC of 2014 to 120 h; returns the path and wall time."""
    path = arguments.output / "forecasts" / f"{variant}.zarr"
    record = path.with_suffix(".json")
    if arguments.reuse and record.is_file() and path.exists():
        log(f"reusing the {variant} forecast {path}")
        return json.loads(record.read_text())
    command = [
        *tool("inference"), "run", str(RUN_CONFIG), f"checkpoint={checkpoint}",
        f"input={arguments.dataset}", f"output={path}", "overwrite=true",
        f"threads={arguments.threads}",
        *([f"init_dates.end='{QUICK_INIT_END}'"] if arguments.quick else []),
    ]  # fmt: skip
    log_path = arguments.output / "logs" / f"forecast-{variant}.log"
    seconds, _ = run_tool(command, log_path, arguments.threads)
    result = {"path": str(path), "forecast_wall_s": round(seconds, 1)}
    record.write_text(json.dumps(result, indent=2) + "\n")
    return result


def score(path: Path, folder: Path, arguments: argparse.Namespace, *options: str) -> Path:
    """``wx-inference score`` of a forecast (and ``options``); returns its ``scores.csv``."""
    command = [
        *tool("inference"), "score", str(path), "--truth", str(arguments.dataset),
        "--climatology-period", CLIMATOLOGY_PERIOD, "--map-leads", "6h,24h,120h",
        "--output", str(folder), *options,
    ]  # fmt: skip
    run_tool(command, arguments.output / "logs" / f"score-{folder.name}.log")
    return folder / "scores.csv"


def rmse_table(scores_csv: Path, variable: str = "air") -> dict:
    """``{lead_hours, model|persistence|climatology: [...], scored_cells, init_times}``: RMSE."""
    with open(scores_csv, newline="") as stream:
        rows = [
            r for r in csv.DictReader(stream) if r["metric"] == "rmse" and r["variable"] == variable
        ]
    leads = sorted({float(r["lead_time_hours"]) for r in rows})
    table: dict = {"lead_hours": leads}
    for kind in KINDS:
        values = {
            float(r["lead_time_hours"]): float(r["value"]) for r in rows if r["forecast"] == kind
        }
        table[kind] = [float(f"{values[lead]:.4g}") for lead in leads]  # 4 significant digits
    metadata = json.loads(scores_csv.with_name("scores.json").read_text())["metadata"]
    table["scored_cells"] = metadata["scored_cells"]
    table["init_times"] = len(metadata["init_times"])
    return table


def targets(table: dict) -> dict:
    """Lead by lead: the issue's RMSE targets and 'below both baselines'."""
    leads = table["lead_hours"]
    model = dict(zip(leads, table["model"], strict=True))
    beats = [
        m < min(p, c)
        for m, p, c in zip(table["model"], table["persistence"], table["climatology"], strict=True)
    ]
    result = {
        f"rmse_{lead:.0f}h_le_{limit}": model.get(lead, 1e9) <= limit
        for lead, limit in TARGETS_K.items()
    }
    result["below_both_baselines_every_lead"] = all(beats)
    result["leads_not_below_both"] = [lead for lead, ok in zip(leads, beats, strict=True) if not ok]
    return result


def plot(results: dict, path: Path) -> Path:
    """RMSE against lead time: both variants and both baselines, interior and full domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(key, title) for key, title in (("interior", "interior (765 points)"),
              ("full_domain", "full domain (1325 points), open model")) if results.get(key)]  # fmt: skip
    figure, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    for axis, (key, title) in zip(axes[0], panels, strict=True):
        _plot_panel(axis, results[key], title)
    figure.suptitle("NCEP air temperature, 2014 forecasts: RMSE by lead time")
    return save_figure(figure, path, dpi=110)


def save_figure(figure, path: Path, *, dpi: int) -> Path:
    """Lay out, write (making the folder) and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def _plot_panel(axis, tables: dict, title: str) -> None:
    styles = {"open": ("tab:blue", "model, no boundary forcing"),
              "forced": ("tab:red", "model, boundary forced")}  # fmt: skip
    baselines = None
    for variant, table in tables.items():
        colour, label = styles[variant]
        axis.plot(table["lead_hours"], table["model"], "o-", ms=3, color=colour, label=label)
        baselines = table
    axis.plot(baselines["lead_hours"], baselines["persistence"], "s--", ms=3, color="0.45",
              label="persistence")  # fmt: skip
    axis.plot(baselines["lead_hours"], baselines["climatology"], ":", color="tab:green",
              label="climatology (2013)")  # fmt: skip
    axis.set(
        title=title, xlabel="lead time (h)", ylabel="RMSE of air (K)", xticks=range(0, 121, 24)
    )
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")


def machine() -> dict:
    import torch

    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    arguments = parse_arguments()
    arguments.output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ensure_dataset(arguments.dataset, arguments.output / "logs")
    runs, forecasts = {}, {}
    for variant in arguments.variants:
        runs[variant] = train(variant, arguments)
        forecasts[variant] = forecast(variant, runs[variant]["checkpoint"], arguments)
    results = score_all(forecasts, arguments)
    figures = {
        "benchmark": "skill_ncep",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": arguments.quick,
        "config": [CONFIG_NAME, ROLLOUT_CONFIG_NAME],
        "machine": machine(),
        "rmse_K": results,
        "targets_open_full_domain": targets(results["full_domain"]["open"])
        if "open" in results["full_domain"]
        else None,
        "training": {
            v: {k: r[k] for k in ("train_wall_s", "steps", "final_loss")} for v, r in runs.items()
        },
        "forecast_wall_s": {v: f["forecast_wall_s"] for v, f in forecasts.items()},
        "plot": str(plot(results, arguments.plot)),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures))


def score_all(forecasts: dict, arguments: argparse.Namespace) -> dict:
    """RMSE tables: ``interior`` for every variant, ``full_domain`` for the open model."""
    scores = arguments.output / "scores"
    results: dict = {"interior": {}, "full_domain": {}}
    paths = {variant: Path(f["path"]) for variant, f in forecasts.items()}
    if "forced" in paths:
        results["interior"]["forced"] = rmse_table(
            score(paths["forced"], scores / "forced", arguments)
        )
    if "open" in paths:
        full = score(paths["open"], scores / "open-full-domain", arguments)
        results["full_domain"]["open"] = rmse_table(full)
        # the forced graph's interior: the box inside its ring of boundary points
        interior = score(
            paths["open"], scores / "open-interior", arguments, "--area", INTERIOR_AREA
        )
        results["interior"]["open"] = rmse_table(interior)
    return results


if __name__ == "__main__":
    main()
