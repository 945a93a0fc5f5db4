"""Model sharding: peak memory per rank and halo bytes per layer for group sizes 1, 2 and 4.

For each graph (built with ``wx_graphs.build_graph``: a regular lat-lon grid and an icosahedral
multi-mesh in the GraphCast layout) and each group size, starts that many local ranks (gloo on
CPU, or NCCL with one GPU per rank given ``--device cuda``), shards the same model over them and
runs forward + backward steps on random inputs. Each rank reports

- ``resident_mb``: its resident memory after sharding (torch runtime, weights, its graph part,
  and what remains of reading the full graph to plan the partition),
- ``graph_buffers_mb``: the bytes of its part of the graph (edge indices and attributes),
- ``step_peak_mb``: the rise of its peak resident memory during the steps (activations and
  gradients: what sharding divides; on CUDA, ``torch.cuda.max_memory_allocated``); resident
  memory depends on the allocator's reuse of freed pages, so it is the noisier figure,
- ``saved_activations_mb``: the bytes of the tensors autograd keeps for the backward pass
  (unique storages, weights included), counted exactly with ``saved_tensors_hooks``,
- the forward halo bytes it sends per exchange (encoder, each processor layer, decoder); the
  backward pass sends the same again.

The reference is the unsharded model (group size 1) in the same run: ratios are per-rank
memory over the group-size-1 figure. With ``--anemoi-python`` the anemoi-models GNN of the
same width and depth runs unsharded on Anemoi's own 1-degree/refinement-5 graph for an
absolute reference. On CPU the ranks share the host's cores, so step times measure nothing
about scaling; they are reported only with ``--device cuda``.

    uv run python benchmarks/sharding.py                       # 1 deg/r5 and 0.25 deg/r6
    uv run python benchmarks/sharding.py --grids 2.0:4 --group-sizes 1,2   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from memory import memory_mb, reset_peak

from wx_graphs import build_graph
from wx_models.encode_process_decode import EncoderProcessorDecoder
from wx_models.sharding import ModelGroups, plan_model, shard_model
from wx_models.sharding.local import run_local
from wx_utils.logs import setup_logging
from wx_utils.progress import progress

LOG = logging.getLogger("benchmarks.sharding")
ANEMOI_SCRIPTS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "anemoi"


def recipe(resolution: float, refinement: int) -> dict:
    """A global GraphCast-layout recipe: regular grid, multi-mesh, grid2mesh and mesh2grid."""
    return {
        "name": f"{resolution}deg_r{refinement}",
        "nodes": {
            "data": {"kind": "regular", "resolution": resolution},
            "hidden": {"kind": "icosahedral", "refinement": refinement},
        },
        "edges": [
            {"source": "data", "target": "hidden", "builder": "grid2mesh"},
            {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
            {"source": "hidden", "target": "data", "builder": "mesh2grid"},
        ],
    }


def saved_tensors_counted(storages: dict):
    """Record the bytes of every storage autograd saves for the backward pass, by address."""

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    return torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor)


def rank_run(rank: int, world_size: int, graph, options: dict, folder: str) -> None:
    """One rank: build, shard, step; write its figures to ``folder/rank<rank>.json``."""
    cuda = options["device"] == "cuda"
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    torch.manual_seed(0)
    model = EncoderProcessorDecoder(
        graph=graph,
        input_size=options["variables"],
        output_size=options["variables"],
        family=options["family"],
        latent_size=options["latent_size"],
        processor_layers=options["processor_layers"],
        mlp_hidden_size=options["mlp_hidden_size"],
        heads=options["heads"],
        edge_chunks=options["edge_chunks"],
    )
    groups = ModelGroups.from_world(world_size)
    plan = plan_model(model, world_size)
    sharded = shard_model(model, plan, groups)
    model.to(device)
    cells = sharded.grid_cells.size
    generator = torch.Generator().manual_seed(rank)
    inputs = torch.randn(options["batch"], cells, options["variables"], generator=generator)
    inputs, targets = inputs.to(device), inputs.roll(1, dims=-1).to(device)
    gc.collect()
    resident = memory_mb("VmRSS")
    reset_peak()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times, saved = [], {}
    for step in range(options["steps"]):
        start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        with saved_tensors_counted(saved if step == 0 else {}):
            loss = (model(inputs) - targets).square().mean()
        loss.backward()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    step_peak = (
        torch.cuda.max_memory_allocated(device) / 2**20 if cuda else memory_mb("VmHWM") - resident
    )
    per_call = {  # measured: the transformer's encoder exchanges its input features
        name: exchange.bytes_sent // exchange.calls if exchange.calls else 0
        for name, exchange in sharded.exchanges.items()
    }
    graph_bytes = sum(buffer.nbytes for buffer in model.graph.buffers())  # LocalGraph
    figures = {
        "rank": rank,
        "graph_buffers_mb": round(graph_bytes / 2**20, 1),
        "grid_cells": int(cells),
        "mesh_nodes": int(sharded.part.owned["hidden"].size),
        "resident_mb": round(resident, 1),
        "step_peak_mb": round(step_peak, 1),
        "saved_activations_mb": round(sum(saved.values()) / 2**20, 1),
        "halo_bytes_per_layer": per_call,
        "halo_bytes_sent_forward": sharded.communication()["total"] // options["steps"],
        "step_s": round(statistics.median(times[1:] or times), 3),
    }
    if rank == 0:
        figures["plan"] = plan.summary()
    Path(folder, f"rank{rank}.json").write_text(json.dumps(figures))


def run_group(graph, group_size: int, options: dict) -> dict:
    """Figures of one group size: the worst rank's memory, per-rank halo bytes, balance."""
    with tempfile.TemporaryDirectory(prefix="wx-sharding-bench-") as folder:
        backend = "nccl" if options["device"] == "cuda" else "gloo"
        run_local(group_size, rank_run, graph, options, folder, backend=backend)
        ranks = [json.loads(Path(folder, f"rank{r}.json").read_text()) for r in range(group_size)]
    plan = ranks[0].pop("plan")
    result = {
        "step_peak_mb_per_rank_max": max(r["step_peak_mb"] for r in ranks),
        "saved_activations_mb_per_rank_max": max(r["saved_activations_mb"] for r in ranks),
        "resident_mb_per_rank_max": max(r["resident_mb"] for r in ranks),
        "graph_buffers_mb_per_rank_max": max(r["graph_buffers_mb"] for r in ranks),
        "halo_bytes_per_layer_max_rank": {
            name: max(r["halo_bytes_per_layer"][name] for r in ranks)
            for name in ranks[0]["halo_bytes_per_layer"]
        },
        "halo_bytes_per_step_forward_all_ranks": sum(r["halo_bytes_sent_forward"] for r in ranks),
        "imbalance": {
            **{f"{name}_nodes": v["imbalance"] for name, v in plan["nodes"].items()},
            **{f"{name}_edges": v["imbalance"] for name, v in plan["edges"].items()},
        },
        "ranks": ranks,
    }
    if options["device"] == "cuda":
        result["step_s_max_rank"] = max(r["step_s"] for r in ranks)
    return result


def anemoi_reference(python: str, options: dict) -> dict:
    """anemoi-models' GNN of the same size, unsharded, on its 1-degree/r5 graph."""
    with tempfile.TemporaryDirectory(prefix="wx-sharding-anemoi-") as folder:
        graph_file = str(Path(folder) / "graph_1deg_r5.pt")
        common = {"capture_output": True, "text": True, "check": False}
        made = subprocess.run(
            [
                python,
                str(ANEMOI_SCRIPTS / "bench_graph.py"),
                "--grid-deg",
                "1",
                "--refinement",
                "5",
                "--repeats",
                "0",
                "--save",
                graph_file,
                "--workdir",
                folder,
            ],
            **common,
        )
        if made.returncode != 0:
            return {"error": "bench_graph.py failed: " + made.stderr[-500:]}
        ran = subprocess.run(
            [
                python,
                str(ANEMOI_SCRIPTS / "bench_model.py"),
                "--graph",
                graph_file,
                "--processor",
                "gnn",
                "--channels",
                str(options["latent_size"]),
                "--layers",
                str(options["processor_layers"]),
                "--nvars",
                str(options["variables"]),
                "--threads",
                "1",
                "--warmup",
                "1",
                "--iters",
                str(options["steps"]),
            ],
            **common,
        )
        if ran.returncode != 0:
            return {"error": "bench_model.py failed: " + ran.stderr[-500:]}
    figures = json.loads(ran.stdout.strip().splitlines()[-1])
    return {
        "model": figures["processor"],
        "step_peak_mb": round(figures["peak_rss_mb"] - figures["rss_before_steps_mb"], 1),
        "peak_rss_mb": figures["peak_rss_mb"],
        "versions": figures["versions"],
    }


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", default="1.0:5,0.25:6", help="resolution:refinement, ...")
    parser.add_argument("--group-sizes", default="1,2,4")
    parser.add_argument("--family", choices=("gnn", "transformer"), default="gnn")
    parser.add_argument("--latent-size", type=int, default=32)
    parser.add_argument("--mlp-hidden-size", type=int, default=32)
    parser.add_argument("--processor-layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--edge-chunks", type=int, default=1)
    parser.add_argument("--variables", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2, help="forward+backward steps per run")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--anemoi-python", default=None, help="python of the Anemoi venv")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    setup_logging()
    args = parse_arguments(argv)
    options = {
        key: getattr(args, key)
        for key in (
            "family",
            "latent_size",
            "mlp_hidden_size",
            "processor_layers",
            "heads",
            "edge_chunks",
            "variables",
            "batch",
            "steps",
            "device",
        )
    }
    group_sizes = [int(size) for size in args.group_sizes.split(",")]
    if args.device == "cuda" and max(group_sizes) > torch.cuda.device_count():
        raise SystemExit(
            f"--device cuda: group size {max(group_sizes)} needs that many GPUs, "
            f"{torch.cuda.device_count()} visible"
        )
    grids = [(float(r), int(n)) for r, n in (item.split(":") for item in args.grids.split(","))]
    report = {
        "benchmark": "sharding",
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores",  # GPUs named at the end: see below
        "options": options,
        "reference": "group size 1 (the unsharded model) in the same run",
        "graphs": {},
    }
    runs = progress(total=len(grids) * len(group_sizes), description="sharding", unit="run")
    for resolution, refinement in grids:
        graph = build_graph(recipe(resolution, refinement))
        name = f"{resolution}deg_r{refinement}"
        entry = {
            "grid_nodes": graph.nodes["data"].num_nodes,
            "mesh_nodes": graph.nodes["hidden"].num_nodes,
            "edges": {f"{s}->{t}": e.num_edges for (s, t), e in graph.edges.items()},
            "group_sizes": {},
        }
        hetero = graph.to_hetero_data()
        del graph
        for size in group_sizes:
            LOG.info("%s: group size %d", name, size)
            entry["group_sizes"][str(size)] = run_group(hetero, size, options)
            runs.update(1)
        if 1 in group_sizes:
            base = entry["group_sizes"]["1"]["step_peak_mb_per_rank_max"]
            saved = entry["group_sizes"]["1"]["saved_activations_mb_per_rank_max"]
            entry["step_peak_ratio_vs_1"] = {
                size: round(v["step_peak_mb_per_rank_max"] / base, 3)
                for size, v in entry["group_sizes"].items()
            }
            entry["saved_activations_ratio_vs_1"] = {
                size: round(v["saved_activations_mb_per_rank_max"] / saved, 3)
                for size, v in entry["group_sizes"].items()
            }
        report["graphs"][name] = entry
    runs.close()
    if args.device == "cuda":  # only now: CUDA must stay uninitialised while ranks are forked
        report["machine"] += f", {torch.cuda.device_count()} x {torch.cuda.get_device_name()}"
    if args.anemoi_python:
        anemoi = anemoi_reference(args.anemoi_python, options)
        report["anemoi"] = anemoi
        wx_single = report["graphs"].get("1.0deg_r5", {}).get("group_sizes", {}).get("1")
        if wx_single and "step_peak_mb" in anemoi:
            report["anemoi"]["wx_over_anemoi_step_peak_1deg"] = round(
                wx_single["step_peak_mb_per_rank_max"] / anemoi["step_peak_mb"], 3
            )
    else:
        report["anemoi"] = "not run: --anemoi-python not given"
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
