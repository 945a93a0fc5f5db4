"""The wx main job, end to end on built-in data, in one command (no network, no GPU needed).

    uv run python examples/quickstart.py [--output quickstart-output] [--steps 300]

1. builds the shallow-water dataset (examples/datasets/shallow-water-quickstart.yaml),
2. builds the graph and trains a small global GNN on its first 200 days (wx-training),
3. runs 5-day forecasts from the last 40 days (wx-inference run),
4. scores them against the truth, persistence and climatology (wx-inference score),
5. prints the scorecard and where the plots, checkpoint and MLflow records are.

Every step calls the same command-line tool a user would, so this file is also a worked
example of the CLIs. Running it again reuses a complete dataset and replaces everything else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "datasets" / "shallow-water-quickstart.yaml"
TRAIN = {"start": "2000-01-01T00:00", "end": "2000-07-18T18:00"}
VERIFY = {"start": "2000-07-19T00:00", "end": "2000-08-27T18:00"}
INIT_DATES = {"start": "2000-07-20T00:00", "end": "2000-08-21T00:00", "frequency": "2d"}
SCORED = ["z", "u", "v"]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("quickstart-output"))
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--lead-time", default="5d", help="forecast length (default 5d)")
    return parser.parse_args()


def step(number: int, title: str) -> None:
    print(f"\n=== {number}/5 {title}", flush=True)


def run(*command: str) -> None:
    """Run one wx command line, showing it and its progress bars; stop on failure."""
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    # Cached bytecode saves each tool tens of seconds of start-up on a small machine.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(command, cwd=ROOT, check=False, env=env)
    if result.returncode != 0:
        sys.exit(f"quickstart: '{command[0]} {command[1]}' failed with status {result.returncode}")
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)


def overrides(prefix: str, values: dict[str, str]) -> list[str]:
    """``prefix.key='value'`` command-line overrides (quoted: dates hold colons)."""
    return [f"{prefix}.{key}='{value}'" for key, value in values.items()]


def dataset_is_complete(path: Path) -> bool:
    """A store from an earlier run is reused only if it is marked complete."""
    header = path / "zarr.json"
    if not header.is_file():
        return False
    attributes = json.loads(header.read_text()).get("attributes", {})
    return bool(attributes.get("wx", {}).get("complete"))


def build_dataset(output: Path) -> Path:
    step(1, "dataset: 240 days of a global shallow-water atmosphere (T21, 6-hourly)")
    store = output / "shallow-water.zarr"
    if dataset_is_complete(store):
        print(f"  reusing the complete store {store}")
    else:
        run("wx-datasets", "create", str(RECIPE), str(store), "--overwrite")
    run(
        "wx-datasets",
        "plot",
        str(store),
        "--variables",
        "z,vorticity",
        "--times",
        "0,400,800",
        "--output",
        str(output / "plots" / "dataset"),
    )
    return store


def train(output: Path, store: Path, steps: int) -> Path:
    step(2, f"graph and training: a small GNN, {steps} steps (MLflow in the run folder)")
    run_dir = output / "training"
    shutil.rmtree(run_dir, ignore_errors=True)
    every = max(steps // 2, 1)
    run(
        "wx-training", "train", "--config-name", "shallow_water_tiny",
        f"data.dataset={store}", *overrides("data.train", TRAIN),
        *overrides("data.validation", VERIFY), "graph.recipe.nodes.hidden.refinement=3",
        f"run_dir={run_dir}", f"training.max_steps={steps}",
        f"training.validation.every={every}", f"training.checkpoint.every={every}",
        "training.validation.max_batches=5",
        "training.rollout.maximum=1", "name=quickstart",
    )  # fmt: skip
    return run_dir


def forecast(output: Path, store: Path, run_dir: Path, lead_time: str) -> Path:
    step(3, f"forecasts: {lead_time} from every second day of the verification period")
    path = output / "forecast.zarr"
    checkpoint = run_dir / "checkpoints" / "inference-last.safetensors"
    config = ROOT / "examples" / "inference" / "shallow-water-global.yaml"
    run(
        "wx-inference", "run", str(config), f"checkpoint={checkpoint}", f"input={store}",
        *overrides("init_dates", INIT_DATES), f"lead_time={lead_time}", f"output={path}",
        "format=zarr", "overwrite=true",
    )  # fmt: skip
    return path


def score(output: Path, store: Path, path: Path) -> Path:
    step(4, "scores against the truth, persistence and climatology")
    scores = output / "scores"
    shutil.rmtree(scores, ignore_errors=True)
    run(
        "wx-inference", "score", str(path), "--truth", str(store),
        "--climatology-period", f"{TRAIN['start']}/{TRAIN['end']}", "--window-days", "181",
        "--variables", *SCORED, "--map-leads", "6h,48h,120h", "--output", str(scores),
    )  # fmt: skip
    return scores


def print_scorecard(scores: Path) -> None:
    """RMSE per day of lead time of the model and the two baselines, from ``scores.csv``."""
    import csv

    with open(scores / "scores.csv", newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["metric"] == "rmse"]
    table: dict[tuple[str, float], dict[str, float]] = {}
    for row in rows:
        key = (row["variable"], float(row["lead_time_hours"]))
        table.setdefault(key, {})[row["forecast"]] = float(row["value"])
    print(f"{'variable':>8} {'lead':>6} {'model':>10} {'persistence':>12} {'climatology':>12}")
    for (variable, hours), values in sorted(table.items()):
        if hours % 24 and hours != 6:
            continue
        print(
            f"{variable:>8} {hours:>5.0f}h {values.get('model', float('nan')):>10.4g} "
            f"{values.get('persistence', float('nan')):>12.4g} "
            f"{values.get('climatology', float('nan')):>12.4g}"
        )


def main() -> None:
    arguments = parse_arguments()
    output = arguments.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = build_dataset(output)
    run_dir = train(output, store, arguments.steps)
    path = forecast(output, store, run_dir, arguments.lead_time)
    scores = score(output, store, path)
    step(5, "scorecard (RMSE; lower is better)")
    print_scorecard(scores)
    print(
        f"\nAll done in {(time.perf_counter() - started) / 60:.1f} min. Everything is in {output}:\n"
        f"  dataset      {store}\n"
        f"  run          {run_dir} (config, provenance, checkpoints, plots)\n"
        f"  checkpoint   {run_dir / 'checkpoints' / 'inference-last.safetensors'}\n"
        f"  forecast     {path}\n"
        f"  scores       {scores} (CSV, JSON, score and map plots)\n"
        f"  maps         {output / 'plots' / 'dataset'}\n"
        f"MLflow:  uv run mlflow ui --backend-store-uri sqlite:///{run_dir / 'mlflow.db'}"
        "  then open http://127.0.0.1:5000"
    )


if __name__ == "__main__":
    main()
