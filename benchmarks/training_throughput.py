#!/usr/bin/env python
"""Benchmark wx-training: samples/s of the two example configs and the time spent waiting for data.

For each example (the regional NCEP air-temperature model ``ncep_air_tiny`` and the global
shallow-water model ``shallow_water_tiny``, both tiny CPU configs), the real training step of
``wx_training.trainer.Trainer`` (loader, rollout, weighted loss, backward, AdamW) runs with 0, 1
and 2 data-loader workers: after ``--warmup`` steps, ``--steps`` steps are timed; reported are
samples/s and the share of the step time spent in ``next(loader)`` (target: under 5 % with 2
workers). The model alone (forward + MSE + backward, batch 1, no data loading, no optimizer) is
timed too, for the comparison below.

Reference: with ``--anemoi-python PATH`` (../shared/bench/anemoi), anemoi-models'
``AnemoiModelEncProcDec`` with its GNN processor runs forward + backward (batch 1) on the very
same graph (converted to anemoi's HeteroData layout), with the same latent size and processor
layers and as many variables as the wx model has inputs, through ``bench_model.py``; the JSON
gives both times and their ratio. Without it, the output says the comparison was skipped.

On a machine with CUDA, the full-size variants (``*_gpu`` configs) are timed on the GPU too.

Prints one JSON line on stdout; progress and logs go to stderr.
Usage: uv run python benchmarks/training_throughput.py --ncep-dataset datasets/ncep-air.zarr \
           --shallow-water-dataset datasets/shallow-water.zarr [--steps 40] [--warmup 5] \
           [--workers 0,1,2] [--threads 1] [--examples ncep_air,shallow_water] \
           [--build-datasets DIR] [--anemoi-python PATH]
Quick run: --examples ncep_air --steps 10 --warmup 2 --workers 0,2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
ANEMOI_SCRIPT = REPOSITORY.parent / "shared" / "bench" / "anemoi" / "bench_model.py"
RECIPES = {
    "ncep_air": REPOSITORY / "examples" / "datasets" / "ncep-air-temperature.yaml",
    "shallow_water": REPOSITORY / "examples" / "datasets" / "shallow-water.yaml",
}

# Runs in the anemoi environment: rebuild anemoi's HeteroData from plain tensors.
ANEMOI_GRAPH_CONVERTER = """
import sys, torch
from torch_geometric.data import HeteroData
tensors = torch.load(sys.argv[1], weights_only=True)  # plain tensors only
graph = HeteroData()
for name in ("data", "hidden"):
    graph[name].x = tensors[f"{name}/x"]
for source, target in (("data", "hidden"), ("hidden", "hidden"), ("hidden", "data")):
    edges = graph[(source, "to", target)]
    edges.edge_index = tensors[f"{source}__{target}/edge_index"]
    edges.edge_length = tensors[f"{source}__{target}/edge_length"]
    edges.edge_dirs = tensors[f"{source}__{target}/edge_dirs"]
torch.save(graph, sys.argv[2])
"""


def log(message: str) -> None:
    print(f"[training_throughput] {message}", file=sys.stderr, flush=True)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ncep-dataset", default="datasets/ncep-air.zarr")
    parser.add_argument("--shallow-water-dataset", default="datasets/shallow-water.zarr")
    parser.add_argument(
        "--build-datasets",
        default=None,
        metavar="DIR",
        help="build missing datasets here from examples/datasets",
    )
    parser.add_argument("--examples", default="ncep_air,shallow_water")
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (1 leaves a core for a loader worker)",
    )
    parser.add_argument(
        "--anemoi-python", default=None, help="python of the anemoi reference environment"
    )
    return parser.parse_args()


def dataset_path(example: str, arguments: argparse.Namespace) -> Path:
    path = Path(
        arguments.ncep_dataset if example == "ncep_air" else arguments.shallow_water_dataset
    )
    if path.exists():
        return path
    if arguments.build_datasets is None:
        raise SystemExit(f"{path}: no such dataset; build it (or pass --build-datasets DIR)")
    from wx_datasets import create

    target = Path(arguments.build_datasets) / path.name
    if not target.exists():
        log(f"building {target} from {RECIPES[example].name}")
        os.environ.setdefault("WX_SHARED_DATA", str(REPOSITORY.parent / "shared" / "data"))
        create(RECIPES[example], target)
    return target


def example_config(
    example: str, dataset: Path, run_dir: Path, *, threads: int, workers: int, device: str
):
    from wx_training.config import compose_config

    suffix = "gpu" if device == "cuda" else "tiny"
    overrides = [
        f"data.dataset={dataset.resolve()}",
        f"data.num_workers={workers}",
        f"hardware.num_threads={threads}",
        "tracking=off",
        f"run_dir={run_dir}",
        "training.max_steps=1000000",
    ]
    return compose_config(overrides, config_name=f"{example}_{suffix}")


def time_training(config, components, run_dir: Path, *, steps: int, warmup: int) -> dict:
    """samples/s and data-wait share of the real training step."""
    import torch

    from wx_training.distributed import setup_distributed
    from wx_training.run_dir import RunDirectory
    from wx_training.trainer import Trainer

    context = setup_distributed(accelerator=config.hardware.accelerator)
    trainer = Trainer(
        config=config,
        components=components,
        context=context,
        run=RunDirectory(run_dir),
        tracker=None,
        provenance={},
    )
    batches = trainer.batches()
    for _ in range(warmup):
        trainer.train_step(batches)
    if context.device.type == "cuda":
        torch.cuda.synchronize()
    started, waited = time.perf_counter(), 0.0
    for _ in range(steps):
        waited += trainer.train_step(batches)[2]
    if context.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    batches.close()  # stops the loader workers
    samples = steps * trainer.sampler.global_batch * config.training.accumulate
    return {
        "samples_per_s": round(samples / elapsed, 3),
        "step_s": round(elapsed / steps, 4),
        "data_wait_fraction": round(waited / elapsed, 4),
        "batch_size": trainer.sampler.global_batch,
    }


def time_model(components, *, iterations: int = 7) -> float:
    """Median forward + MSE + backward of the model alone, batch 1 (as anemoi's bench_model)."""
    import torch

    from wx_training.rollout import Rollout

    model = components.model.train()
    rollout = Rollout.for_model(model, components.layout.sample_variables, None)
    fields = components.train_dataset[0]["fields"][None]  # [1, time, cell, variable]
    history, target = rollout.history(fields), rollout.target(fields, 0)
    times = []
    for _ in range(iterations + 2):
        model.zero_grad(set_to_none=True)
        started = time.perf_counter()
        torch.nn.functional.mse_loss(model(history), target).backward()
        times.append(time.perf_counter() - started)
    return statistics.median(times[2:])


def anemoi_reference(components, config, arguments: argparse.Namespace, workdir: Path) -> dict:
    """anemoi-models GNN forward + backward on the same graph, through bench_model.py."""
    import torch

    graph = components.graph.to_hetero_data()
    tensors = {f"{name}/x": graph[name].x.float().contiguous() for name in ("data", "hidden")}
    for source, target in (("data", "hidden"), ("hidden", "hidden"), ("hidden", "data")):
        edges = graph[source, "to", target]
        tensors[f"{source}__{target}/edge_index"] = edges.edge_index.contiguous()
        tensors[f"{source}__{target}/edge_length"] = edges.edge_attr[:, :1].contiguous()
        tensors[f"{source}__{target}/edge_dirs"] = edges.edge_attr[:, 1:].contiguous()
    workdir.mkdir(parents=True, exist_ok=True)
    plain, converted = workdir / "graph_tensors.pt", workdir / "graph_anemoi.pt"
    torch.save({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, plain)
    subprocess.run(
        [arguments.anemoi_python, "-c", ANEMOI_GRAPH_CONVERTER, str(plain), str(converted)],
        check=True,
    )
    command = [
        arguments.anemoi_python,
        str(ANEMOI_SCRIPT),
        "--graph",
        str(converted),
        "--processor",
        "gnn",
        "--channels",
        str(config.model.latent_size),
        "--layers",
        str(config.model.processor_layers),
        "--nvars",
        str(len(components.model.input_variables)),
        "--threads",
        str(arguments.threads),
        "--warmup",
        "2",
        "--iters",
        "7",
    ]
    answer = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    return {
        "fwd_bwd_s": result["fwd_bwd_median_s"],
        "params": result["params"],
        "versions": result["versions"],
    }


def bench_example(example: str, arguments: argparse.Namespace, workdir: Path, device: str) -> dict:
    import torch

    from wx_training.components import build_components, count_parameters
    from wx_training.seeding import seed_everything

    dataset = dataset_path(example, arguments)
    workers = [int(item) for item in arguments.workers.split(",")] if device == "cpu" else [8]
    base = example_config(
        example, dataset, workdir / "base", threads=arguments.threads, workers=0, device=device
    )
    seed_everything(base.seed)
    components = build_components(base)
    graph = components.graph
    result = {
        "config": f"{example}_{'gpu' if device == 'cuda' else 'tiny'}",
        "cells": int(components.model.num_cells),
        "mesh_nodes": int(graph.nodes["hidden"].num_nodes),
        "parameters": count_parameters(components.model),
        "latent_size": base.model.latent_size,
        "processor_layers": base.model.processor_layers,
        "workers": {},
    }
    for count in workers:
        log(
            f"{example} on {device}: {count} loader workers, {arguments.warmup} + {arguments.steps} steps"
        )
        config = example_config(
            example,
            dataset,
            workdir / f"w{count}",
            threads=arguments.threads,
            workers=count,
            device=device,
        )
        seed_everything(config.seed)
        parts = build_components(config, graph=graph)
        result["workers"][str(count)] = time_training(
            config, parts, workdir / f"w{count}", steps=arguments.steps, warmup=arguments.warmup
        )
    if device == "cpu":
        torch.set_num_threads(arguments.threads)
        result["model_fwd_bwd_s"] = round(time_model(components), 4)
        if arguments.anemoi_python:
            log(f"{example}: anemoi-models GNN on the same graph")
            reference = anemoi_reference(components, base, arguments, workdir)
            result["anemoi_fwd_bwd_s"] = reference["fwd_bwd_s"]
            result["anemoi_params"] = reference["params"]
            result["anemoi_versions"] = reference["versions"]
            result["model_speedup_vs_anemoi"] = round(
                reference["fwd_bwd_s"] / result["model_fwd_bwd_s"], 3
            )
    return result


def main() -> None:
    arguments = parse_arguments()
    os.environ.setdefault("WX_PROGRESS", "0")
    import torch

    torch.set_num_threads(arguments.threads)
    output: dict = {
        "benchmark": "training_throughput",
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "threads": arguments.threads,
        "steps": arguments.steps,
        "warmup": arguments.warmup,
        "cpu": {},
    }
    if not arguments.anemoi_python:
        output["anemoi"] = "skipped: --anemoi-python not given, no reference comparison"
    elif not ANEMOI_SCRIPT.is_file():
        raise SystemExit(f"{ANEMOI_SCRIPT}: anemoi reference script not found")
    with tempfile.TemporaryDirectory(prefix="wx-train-bench-") as folder:
        workdir = Path(folder)
        for example in arguments.examples.split(","):
            output["cpu"][example] = bench_example(example, arguments, workdir / example, "cpu")
        if torch.cuda.is_available():
            output["gpu"] = {"device": torch.cuda.get_device_name(0)}
            for example in arguments.examples.split(","):
                output["gpu"][example] = bench_example(
                    example, arguments, workdir / f"{example}-gpu", "cuda"
                )
        else:
            output["gpu"] = "not measured: no CUDA device visible"
    for figures in output["cpu"].values():
        two = figures["workers"].get("2")
        if two is not None:
            figures["data_wait_under_5_percent_with_2_workers"] = two["data_wait_fraction"] < 0.05
        zero = figures["workers"].get("0")
        if two is not None and zero is not None:
            figures["speedup_2_workers_vs_0"] = round(
                two["samples_per_s"] / zero["samples_per_s"], 3
            )
    print(json.dumps(output, sort_keys=True))


if __name__ == "__main__":
    main()
