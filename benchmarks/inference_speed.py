"""Benchmark wx-inference: a 10-day forecast (40 six-hourly steps) written to zarr.

Two models with random weights (speed does not depend on the weights):

- ``shallow-water``: the shallow-water example model (wx-training's ``shallow_water_tiny``:
  T42 Gaussian grid 64 x 128, global icosahedral mesh refined 4 times, latent 32, 2 processor
  layers, 2 input steps; z, u, v, vorticity, divergence prognostic, 5 computed forcings, 5
  constants);
- ``graphcast-1deg``: a GraphCast-style model on the 1-degree grid with poles (181 x 360) and
  the refinement-5 multi-mesh (``examples/graphs/graphcast-1deg-r5.yaml``), with the width of
  Anemoi's benchmark (latent 128, 4 processor layers, 10 prognostic variables) by default;
  ``--latent-size 512 --processor-layers 16`` gives GraphCast's width (a GPU job).

For each: seconds per step end to end (model, forcings, boundary, writing), the model's share,
peak resident memory (and GPU memory on CUDA), the growth of resident memory between the first
and the last step (flat memory), and the output rate in MB/s (float32 values written per second
of writing; the zarr store is zstd-compressed on disk). With ``--anemoi-python`` the same
1-degree graph and width run through anemoi-models' ``AnemoiModelEncProcDec`` (GNN processor,
forward without gradients, ``../shared/bench/anemoi/bench_model.py``) and the JSON gets the ratio
of Anemoi's forward time to wx's (above 1: wx is faster). Without it, the JSON says so.

    uv run python benchmarks/inference_speed.py                           # both models, 40 steps
    uv run python benchmarks/inference_speed.py --steps 4 --models shallow-water   # quick check

Prints exactly one JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import memory_mb

os.environ.setdefault("WX_PROGRESS", "0")

import numpy as np
import torch
import xarray as xr

import wx_models
from wx_graphs import build_graph, read_recipe
from wx_inference.ensemble import plan_members
from wx_inference.forecaster import Forecaster
from wx_inference.output import open_writer

ROOT = Path(__file__).resolve().parents[1]
ANEMOI_BENCH = ROOT.parent / "shared" / "bench" / "anemoi"
INIT = np.datetime64("2000-06-01T00", "s")
SW_FORCINGS = ["cos_julian_day", "sin_julian_day", "cos_local_time", "sin_local_time", "insolation"]
SW_PROGNOSTIC = ["z", "u", "v", "vorticity", "divergence"]
SW_CONSTANTS = ["orography", "cos_latitude", "sin_latitude", "cos_longitude", "sin_longitude"]


def log(message: str) -> None:
    print(f"[inference_speed] {message}", file=sys.stderr, flush=True)


def mesh_edges() -> list[dict]:
    return [
        {"source": "data", "target": "hidden", "builder": "grid2mesh", "radius_fraction": 0.6},
        {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
        {"source": "hidden", "target": "data", "builder": "mesh2grid"},
    ]


def shallow_water_case(folder: Path) -> dict:
    """Graph, variables and input file of the shallow-water example model."""
    nodes, _ = np.polynomial.legendre.leggauss(64)
    lat_axis = np.rad2deg(np.arcsin(nodes))[::-1]  # Gaussian latitudes, north to south
    lon_axis = np.arange(128) * 360.0 / 128
    grid = folder / "t42.nc"
    xr.Dataset(coords={"latitude": lat_axis, "longitude": lon_axis}).to_netcdf(grid)
    recipe = {
        "nodes": {"data": {"kind": "file", "path": str(grid)},
                  "hidden": {"kind": "icosahedral", "refinement": 4}},
        "edges": mesh_edges(),
    }  # fmt: skip
    variables = dict.fromkeys(SW_PROGNOSTIC, "prognostic")
    variables |= dict.fromkeys(SW_FORCINGS, "forcing") | dict.fromkeys(SW_CONSTANTS, "constant")
    scale = {"z": (78000.0, 2000.0), "u": (10.0, 15.0), "v": (0.0, 10.0),
             "vorticity": (0.0, 3e-5), "divergence": (0.0, 3e-6), "orography": (500.0, 600.0)}  # fmt: skip
    return {"recipe": recipe, "variables": variables, "scale": scale, "axes": (lat_axis, lon_axis),
            "time_step": "6h", "input_steps": 2, "latent_size": 32, "processor_layers": 2}  # fmt: skip


def graphcast_case(args: argparse.Namespace) -> dict:
    recipe = read_recipe(ROOT / "examples" / "graphs" / "graphcast-1deg-r5.yaml")
    names = [f"var_{i:02d}" for i in range(args.variables)]
    return {"recipe": recipe, "variables": dict.fromkeys(names, "prognostic"),
            "scale": dict.fromkeys(names, (280.0, 10.0)),
            "axes": (np.linspace(90.0, -90.0, 181), np.arange(360.0)), "time_step": "6h",
            "input_steps": 1, "latent_size": args.latent_size,
            "processor_layers": args.processor_layers}  # fmt: skip


def statistics_for(variables: dict[str, str], scale: dict) -> dict:
    stats = {}
    for name in variables:
        mean, stdev = scale.get(name, (0.0, 1.0))
        stats[name] = {"mean": mean, "stdev": stdev, "minimum": mean - 5 * stdev,
                       "maximum": mean + 5 * stdev, "tendency_mean": 0.0,
                       "tendency_stdev": stdev / 10}  # fmt: skip
    return stats


def write_input(path: Path, case: dict, model_spec) -> None:
    """Two dates of smooth random fields (the initial window) in a netCDF file."""
    lat_axis, lon_axis = case["axes"]
    rng = np.random.default_rng(0)
    times = INIT - np.timedelta64(6, "h") * np.arange(case["input_steps"])[::-1]
    data = {}
    for name in (*model_spec.prognostic, *model_spec.constant):
        mean, stdev = case["scale"].get(name, (0.0, 1.0))
        field = mean + stdev * rng.standard_normal((times.size, lat_axis.size, lon_axis.size))
        data[name] = (("time", "latitude", "longitude"), field.astype(np.float32))
    coords = {"time": times.astype("datetime64[ns]"), "latitude": lat_axis, "longitude": lon_axis}
    xr.Dataset(data, coords=coords).to_netcdf(path)


def make_checkpoint(case: dict, folder: Path, name: str) -> tuple[Path, float]:
    started = time.perf_counter()
    graph = build_graph(case["recipe"], base_dir=ROOT / "examples" / "graphs")
    graph_seconds = time.perf_counter() - started
    data = graph.nodes["data"]
    torch.manual_seed(0)
    model = wx_models.WeatherModel(
        graph=graph.to_hetero_data(), variables=case["variables"],
        statistics=statistics_for(case["variables"], case["scale"]),
        input_steps=case["input_steps"], time_step=case["time_step"],
        latent_size=case["latent_size"], processor_layers=case["processor_layers"],
        mlp_hidden_size=case["latent_size"], latitudes=data.latitudes,
        longitudes=data.longitudes,
        grid_shape=[case["axes"][0].size, case["axes"][1].size],
    )  # fmt: skip
    path = folder / f"{name}.safetensors"
    wx_models.save_checkpoint(path, model, metadata={"benchmark": name})
    return path, graph_seconds


def forecast(checkpoint: Path, input_path: Path, output: Path, args) -> dict:
    """The 40-step forecast, written step by step; timings of model and writing."""
    forecaster = Forecaster.from_checkpoint(
        checkpoint, device=args.device, precision=args.precision
    )
    source = forecaster.open_input(str(input_path))
    lead_time = np.timedelta64(6 * args.steps, "h")
    plan = forecaster.check(source, [INIT], lead_time)
    members = plan_members(source.ensemble_size, None)
    layout = forecaster.layout([INIT], lead_time, members, header=forecaster.header())
    state = forecaster.initial_state(source, INIT, plan=plan)
    if forecaster.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    write_seconds, written, rss = 0.0, 0, []
    started = time.perf_counter()
    with open_writer(output, layout, format="zarr") as writer:
        for index, step in enumerate(forecaster.rollout(state, plan, source, None)):
            write_start = time.perf_counter()
            writer.write(0, index, step.fields[0])
            write_seconds += time.perf_counter() - write_start
            written += step.fields[0].nbytes
            rss.append(memory_mb())
        close_start = time.perf_counter()
        writer.close()
        write_seconds += time.perf_counter() - close_start
    total = time.perf_counter() - started
    size_on_disk = sum(f.stat().st_size for f in output.rglob("*") if f.is_file())
    result = {
        "steps": plan.steps,
        "cells": int(forecaster.spec.latitudes.size),
        "parameters": sum(p.numel() for p in forecaster.model.parameters()),
        "variables": len(forecaster.spec.output_variables),
        "s_per_step": round(total / plan.steps, 4),
        "model_s_per_step": round((total - write_seconds) / plan.steps, 4),
        "output_mb": round(written / 1e6, 1),
        "output_mb_on_disk": round(size_on_disk / 1e6, 1),
        "output_mb_per_s": round(written / 1e6 / max(write_seconds, 1e-9), 1),
        "rss_growth_mb_first_to_last_step": round(rss[-1] - rss[0], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if forecaster.device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    result["model_forward_s"] = forward_seconds(forecaster, state)
    return result


def forward_seconds(forecaster: Forecaster, state) -> float:
    """Median of 3 timed forward passes without gradients (the model alone)."""
    history = torch.from_numpy(state.history).to(forecaster.device)
    timings = []
    with torch.no_grad():
        forecaster.model(history)
        for _ in range(3):
            if forecaster.device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            forecaster.model(history)
            if forecaster.device.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - started)
    return round(float(np.median(timings)), 4)


def anemoi_reference(args, folder: Path) -> dict:
    """anemoi-models' forward time on the same 1-degree r5 graph and width."""
    graph = folder / "anemoi_graph_1deg_r5.pt"
    commands = [
        [args.anemoi_python, str(ANEMOI_BENCH / "bench_graph.py"), "--grid-deg", "1",
         "--refinement", "5", "--repeats", "1", "--save", str(graph)],
        [args.anemoi_python, str(ANEMOI_BENCH / "bench_model.py"), "--processor", "gnn",
         "--graph", str(graph), "--channels", str(args.latent_size), "--layers",
         str(args.processor_layers), "--nvars", str(args.variables), "--threads",
         str(torch.get_num_threads()), "--warmup", "1", "--iters", "3"],
    ]  # fmt: skip
    for command in commands:
        log("anemoi: " + " ".join(command[1:3]))
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return {"error": done.stderr[-2000:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {key: result.get(key) for key in ("fwd_nograd_median_s", "params", "n_grid",
                                             "peak_rss_mb", "versions")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="shallow-water,graphcast-1deg")
    parser.add_argument("--steps", type=int, default=40, help="6-hour steps (40 = 10 days)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--latent-size", type=int, default=128, help="1-degree model width")
    parser.add_argument("--processor-layers", type=int, default=4, help="1-degree model depth")
    parser.add_argument("--variables", type=int, default=10, help="1-degree model variables")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--anemoi-python", help="python of the Anemoi reference environment")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    figures = {"benchmark": "inference_speed", "device": args.device, "precision": args.precision,
               "torch_threads": torch.get_num_threads(), "models": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="wx-inference-bench-") as tmp:
        folder = Path(tmp)
        for name in args.models.split(","):
            case = shallow_water_case(folder) if name == "shallow-water" else graphcast_case(args)
            log(f"{name}: graph and checkpoint")
            checkpoint, graph_seconds = make_checkpoint(case, folder, name)
            spec = Forecaster.from_checkpoint(checkpoint).spec
            write_input(folder / f"{name}.nc", case, spec)
            log(f"{name}: {args.steps}-step forecast on {args.device}")
            result = forecast(checkpoint, folder / f"{name}.nc", folder / f"{name}.zarr", args)
            result |= {"latent_size": case["latent_size"],
                       "processor_layers": case["processor_layers"],
                       "graph_build_s": round(graph_seconds, 2)}  # fmt: skip
            figures["models"][name] = result
        if "graphcast-1deg" in figures["models"]:
            wx = figures["models"]["graphcast-1deg"]
            if args.anemoi_python:
                reference = anemoi_reference(args, folder)
                figures["anemoi_gnn_1deg"] = reference
                if reference.get("fwd_nograd_median_s"):
                    ratio = reference["fwd_nograd_median_s"] / wx["model_forward_s"]
                    figures["ratio_anemoi_forward_over_wx_forward"] = round(ratio, 2)
            else:
                figures["anemoi_gnn_1deg"] = "not run: pass --anemoi-python PATH"
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
