"""Benchmark the built-in shallow-water atmosphere (wx_datasets.shallow_water).

Measures simulated days per wall-clock second at T42 (64 x 128) and T85 (128 x 256) with the
dataset defaults (forced turbulent flow, random orography, one member, float64), and the time to
produce the one-year T42 example (``examples/datasets/shallow-water.yaml``, 1464 six-hourly
dates after a 60-day spin-up): through ``wx_datasets.create`` (simulation, statistics, zarr
store) when that is importable, otherwise the simulation alone (``open_source``); the JSON says
which. There is no Anemoi counterpart (anemoi-datasets has no simulator), so the reference is
the issue's target: the one-year example in under 180 s on 2 cores.

    uv run python benchmarks/shallow_water.py                 # full run (a few minutes)
    uv run python benchmarks/shallow_water.py --days 2 --skip-year   # quick check

Wall-clock figures depend on what else runs on the machine; the ``cpu_*`` figures (process CPU
time, all threads) are steadier on a shared machine. Prints exactly one JSON line on stdout;
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WX_PROGRESS", "0")

from wx_datasets.shallow_water import initial
from wx_datasets.shallow_water.model import Trajectory
from wx_datasets.shallow_water.options import parse_options
from wx_datasets.shallow_water.source import (
    build_model,
    build_orography,
    build_stirring,
    default_time_step,
)
from wx_datasets.shallow_water.spectral import SpectralTransform

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "datasets" / "shallow-water.yaml"
TARGET_SECONDS = 180.0


def simulated_days_per_second(truncation: int, days: float) -> dict:
    """Integrate ``days`` after a one-day warm-up; the best of three equal thirds counts."""
    config = parse_options({"truncation": truncation, "seed": 1})
    transform = SpectralTransform(truncation=truncation, nlat=config.nlat, nlon=config.nlon)
    time_step = 21600 / -(-21600 // default_time_step(truncation))
    orography = build_orography(config, transform)
    model = build_model(config, transform, time_step=time_step, orography=orography)
    state = initial.random_balanced_state(model, [1], mean_depth=config.mean_depth)
    stirring = build_stirring(config, transform, seeds=[1], time_step=time_step)
    trajectory = Trajectory(model, state, stirring=stirring)
    trajectory.advance(round(86400 / time_step))
    steps = max(3, round(days * 86400 / time_step) // 3 * 3)
    timings, cpu_timings = [], []
    for _ in range(3):
        start, cpu_start = time.perf_counter(), time.process_time()
        trajectory.advance(steps // 3)
        timings.append(time.perf_counter() - start)
        cpu_timings.append(time.process_time() - cpu_start)
    best, cpu_best = min(timings), min(cpu_timings)
    return {
        "truncation": truncation,
        "grid": [config.nlat, config.nlon],
        "time_step_s": time_step,
        "steps": steps,
        "ms_per_step": round(1e3 * best / (steps // 3), 3),
        "simulated_days_per_s": round((steps // 3) * time_step / 86400 / best, 3),
        "cpu_ms_per_step": round(1e3 * cpu_best / (steps // 3), 3),
        "simulated_days_per_cpu_s": round((steps // 3) * time_step / 86400 / cpu_best, 3),
    }


def one_year_example() -> dict:
    """Build the one-year example; through ``wx_datasets.create`` when it exists."""
    try:
        from wx_datasets import create, load_recipe
    except ImportError:
        create = None
    with tempfile.TemporaryDirectory() as folder:
        start, cpu_start = time.perf_counter(), time.process_time()
        if create is not None:
            create(load_recipe(EXAMPLE), Path(folder) / "shallow-water.zarr")
            method = "wx_datasets.create (simulation + statistics + zarr store)"
        else:
            import yaml

            from wx_datasets.shallow_water.source import open_source
            from wx_utils.dates import date_range, parse_datetime, parse_frequency

            recipe = yaml.safe_load(EXAMPLE.read_text())
            dates = date_range(
                parse_datetime(recipe["dates"]["start"]),
                parse_datetime(recipe["dates"]["end"]),
                parse_frequency(recipe["dates"]["frequency"]),
            )
            options = {k: v for k, v in recipe["input"].items() if k != "type"}
            open_source(options, dates=dates)
            method = "open_source only (wx_datasets.create not available)"
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "method": method,
        "target_seconds": TARGET_SECONDS,
        "ratio_to_target": round(seconds / TARGET_SECONDS, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truncations", default="42,85", help="comma-separated, default 42,85")
    parser.add_argument("--days", type=float, default=30.0, help="simulated days per timing at T42")
    parser.add_argument("--skip-year", action="store_true", help="skip the one-year example build")
    args = parser.parse_args(argv)
    figures: dict = {
        "benchmark": "shallow_water",
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "reference": "issue target: one-year T42 example in under 180 s on 2 cores",
    }
    for truncation in (int(text) for text in args.truncations.split(",")):
        days = args.days * (42 / truncation) ** 2  # about equal wall time per truncation
        print(f"timing T{truncation} over {days:.1f} simulated days", file=sys.stderr)
        figures[f"T{truncation}"] = simulated_days_per_second(truncation, days)
    if not args.skip_year:
        print(f"building {EXAMPLE.name}", file=sys.stderr)
        figures["one_year_T42"] = one_year_example()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
