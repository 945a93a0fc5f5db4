"""Training-step speed and memory of wx-models against anemoi-models, on the same machine and run.

    uv run python benchmarks/models_step.py --anemoi-python /work/anemoi-bench/venv/bin/python

Default problem (issue 6): the GraphCast-style 1-degree grid with the refinement-5 multi-mesh
from wx-graphs (``examples/graphs/graphcast-1deg-r5.yaml``), 10 variables x 2 input steps,
latent 128, 4 processor layers, batch 1, 2 CPU threads. For each family (``gnn``: MLP hidden
128 as anemoi's GNN with ratio 1; ``transformer``: MLP hidden 512 and 16 heads as anemoi's
graph transformer with ratio 4) one fresh subprocess builds a :class:`wx_models.WeatherModel`
and times ``zero_grad + forward + MSE loss + backward`` (median over ``--iters`` after
``--warmup``), and reports its peak resident memory (``ru_maxrss``, imports included) and the
memory added by the steps. Achieved GFLOP/s use the analytic matrix-multiply count of
:mod:`wx_models.flops`, against a dense 2048 x 2048 float32 matrix multiply measured in the
same process just before (the practical limit of the machine).

The anemoi side runs ``../shared/bench/anemoi/bench_model.py`` with the python of its own
virtual environment (``--anemoi-python``): it builds its graph with ``bench_graph.py`` (cut-off
encoder, TriNodes mesh, multi-scale processor, KNN decoder) on first use and times its
``AnemoiModelEncProcDec`` the same way (its script takes one input step, so its input has 10
channels where wx's has 20). Without ``--anemoi-python`` the anemoi side is skipped and the
JSON says so. With CUDA available, the GraphCast-size case (0.25 degree, refinement 6, latent
512, 16 layers, bf16 autocast) is timed as well.

Prints one JSON line on stdout; progress goes to stderr. On a shared machine the step times
vary with other work: the ratios of medians and of the fastest steps are both reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import memory_mb

ROOT = Path(__file__).resolve().parents[1]
ANEMOI_SCRIPTS = ROOT.parent / "shared" / "bench" / "anemoi"
FAMILIES = {"gnn": {"mlp_hidden_size": 128}, "transformer": {"mlp_hidden_size": 512}}


def log(message: str) -> None:
    print(f"[models_step] {message}", file=sys.stderr, flush=True)


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Median GFLOP/s of a dense float32 ``size`` x ``size`` matrix multiply."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def build_model(args: argparse.Namespace, family: str, graph):
    from wx_models import WeatherModel

    names = [f"var_{i:02d}" for i in range(args.variables)]
    stats = {
        n: {"mean": 0.0, "stdev": 1.0, "tendency_mean": 0.0, "tendency_stdev": 1.0} for n in names
    }
    return WeatherModel(
        graph=graph,
        variables=dict.fromkeys(names, "prognostic"),
        statistics=stats,
        input_steps=args.input_steps,
        family=family,
        latent_size=args.latent_size,
        processor_layers=args.processor_layers,
        mlp_hidden_size=FAMILIES[family]["mlp_hidden_size"]
        if args.mlp_hidden_size is None
        else args.mlp_hidden_size,
        heads=args.heads,
        edge_chunks=args.edge_chunks,
        activation_checkpointing=args.activation_checkpointing,
    )


def run_case(args: argparse.Namespace) -> dict:
    """One family in this process: median step time, peak memory, GFLOP/s."""
    import torch

    from wx_graphs import build_graph, read_recipe
    from wx_models.flops import network_flops

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = matmul_peak_gflops()
    recipe = Path(args.recipe)
    graph = build_graph(read_recipe(recipe), base_dir=recipe.parent).to_hetero_data()
    model = build_model(args, args.case, graph).train()
    del graph
    cells, inputs = model.num_cells, len(model.input_variables)
    x = torch.randn(args.batch, args.input_steps, cells, inputs)
    target = torch.randn(args.batch, cells, len(model.output_variables))

    def step() -> float:
        start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model.normalise_outputs(model(x)), target)
        loss.backward()
        return time.perf_counter() - start

    rss_before = memory_mb()
    warmup = [step() for _ in range(args.warmup)]
    timed = [step() for _ in range(args.iters)]
    flops = network_flops(model.network, batch=args.batch)
    median = statistics.median(timed)
    return {
        "family": args.case,
        "parameters": sum(p.numel() for p in model.parameters()),
        "graph": model.network.graph.counts(),
        "mlp_hidden_size": model.arguments["mlp_hidden_size"],
        "heads": args.heads,
        "edge_chunks": args.edge_chunks,
        "activation_checkpointing": args.activation_checkpointing,
        "fwd_bwd_median_s": round(median, 4),
        "fwd_bwd_min_s": round(min(timed), 4),
        "fwd_bwd_all_s": [round(t, 4) for t in timed],
        "warmup_s": [round(t, 3) for t in warmup],
        "rss_before_steps_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "step_gflop": round(flops["step"] / 1e9, 2),
        "achieved_gflops": round(flops["step"] / median / 1e9, 2),
        "dense_matmul_gflops": round(peak, 2),
        "fraction_of_dense_peak": round(flops["step"] / median / 1e9 / peak, 3),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def run_gpu_case(args: argparse.Namespace) -> dict:
    """GraphCast size on CUDA: 0.25 degree, refinement 6, latent 512, 16 layers, bf16."""
    import torch

    from wx_graphs import build_graph, read_recipe
    from wx_models.flops import network_flops

    recipe = ROOT / "examples" / "graphs" / "graphcast-0p25deg-r6.yaml"
    graph = build_graph(read_recipe(recipe), base_dir=recipe.parent).to_hetero_data()
    gpu_args = argparse.Namespace(
        **{
            **vars(args),
            "latent_size": 512,
            "processor_layers": 16,
            "mlp_hidden_size": 512,
            "edge_chunks": args.gpu_edge_chunks,
            "activation_checkpointing": True,
        }
    )
    model = build_model(gpu_args, "gnn", graph).cuda().train()
    x = torch.randn(1, args.input_steps, model.num_cells, args.variables, device="cuda")
    target = torch.randn(1, model.num_cells, args.variables, device="cuda")

    def step() -> float:
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.mse_loss(model.normalise_outputs(model(x)), target)
        loss.backward()
        torch.cuda.synchronize()
        return time.perf_counter() - start

    torch.cuda.reset_peak_memory_stats()
    [step() for _ in range(2)]
    median = statistics.median(step() for _ in range(5))
    flops = network_flops(model.network)
    return {
        "device": torch.cuda.get_device_name(),
        "graph": model.network.graph.counts(),
        "latent_size": 512,
        "processor_layers": 16,
        "dtype": "bfloat16 autocast",
        "activation_checkpointing": True,
        "fwd_bwd_median_s": round(median, 4),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2),
        "step_tflop": round(flops["step"] / 1e12, 3),
        "achieved_tflops": round(flops["step"] / median / 1e12, 2),
    }


def subprocess_json(command: list[str], what: str) -> dict:
    log(f"running {what}")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr[-3000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def anemoi_side(args: argparse.Namespace) -> dict:
    if not args.anemoi_python:
        return {"skipped": "no --anemoi-python given: anemoi-models was not measured"}
    workdir = Path(args.anemoi_workdir)
    graph = Path(args.anemoi_graph) if args.anemoi_graph else workdir / "graph_1deg_r5.pt"
    result: dict = {}
    if not graph.exists():
        built = subprocess_json(
            [
                args.anemoi_python,
                str(ANEMOI_SCRIPTS / "bench_graph.py"),
                "--grid-deg",
                "1.0",
                "--refinement",
                "5",
                "--repeats",
                "0",
                "--workdir",
                str(workdir),
                "--save",
                str(graph),
            ],
            "anemoi-graphs build (1 degree, refinement 5)",
        )
        if "error" in built:
            return {"error": "bench_graph.py failed", "detail": built["error"]}
        result["graph_build"] = {"counts": built["counts"], "build_s": built["build_wall_s_first"]}
    common = [
        "--graph",
        str(graph),
        "--channels",
        str(args.latent_size),
        "--layers",
        str(args.processor_layers),
        "--nvars",
        str(args.variables),
        "--threads",
        str(args.threads),
        "--warmup",
        str(args.warmup),
        "--iters",
        str(args.iters),
    ]
    script = str(ANEMOI_SCRIPTS / "bench_model.py")
    for family, processor in (("gnn", "gnn"), ("transformer", "gt")):
        if family in args.families:
            result[family] = subprocess_json(
                [args.anemoi_python, script, "--processor", processor, *common],
                f"anemoi-models {processor}",
            )
    return result


def compare(wx: dict, anemoi: dict) -> dict:
    ratios = {}
    for family, ours in wx.items():
        theirs = anemoi.get(family, {})
        if "fwd_bwd_median_s" not in ours or "fwd_bwd_median_s" not in theirs:
            continue
        ours_step = ours["peak_rss_mb"] - ours["rss_before_steps_mb"]
        theirs_step = theirs["peak_rss_mb"] - theirs["rss_before_steps_mb"]
        ratios[family] = {
            "speedup_vs_anemoi": round(theirs["fwd_bwd_median_s"] / ours["fwd_bwd_median_s"], 2),
            # the fastest step is the one least disturbed by other work on a shared machine
            "speedup_vs_anemoi_fastest_step": round(
                min(theirs["fwd_bwd_all_s"]) / ours["fwd_bwd_min_s"], 2
            ),
            "peak_rss_ratio_vs_anemoi": round(ours["peak_rss_mb"] / theirs["peak_rss_mb"], 3),
            "step_memory_ratio_vs_anemoi": round(ours_step / theirs_step, 3),
            "target_met": theirs["fwd_bwd_median_s"] / ours["fwd_bwd_median_s"] >= 1.5
            and ours["peak_rss_mb"] <= theirs["peak_rss_mb"],
        }
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "examples/graphs/graphcast-1deg-r5.yaml"))
    parser.add_argument("--families", default="gnn,transformer")
    parser.add_argument("--variables", type=int, default=10)
    parser.add_argument("--input-steps", type=int, default=2)
    parser.add_argument("--latent-size", type=int, default=128)
    parser.add_argument("--processor-layers", type=int, default=4)
    parser.add_argument(
        "--mlp-hidden-size",
        type=int,
        default=None,
        help="default: 128 (gnn) and 512 (transformer), as anemoi's defaults",
    )
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--edge-chunks", type=int, default=1)
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--anemoi-python", default=None, help="python of the anemoi venv")
    parser.add_argument("--anemoi-graph", default=None, help="a graph saved by bench_graph.py")
    parser.add_argument(
        "--anemoi-workdir", default=str(Path(tempfile.gettempdir()) / "wx-bench-anemoi")
    )
    parser.add_argument("--gpu", choices=["auto", "no"], default="auto")
    parser.add_argument("--gpu-edge-chunks", type=int, default=4)
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.families = [f for f in args.families.split(",") if f]
    if args.case == "gpu":
        print(json.dumps(run_gpu_case(args)))
        return
    if args.case:
        print(json.dumps(run_case(args)))
        return
    started = time.perf_counter()
    forwarded = list(sys.argv[1:])
    wx = {}
    for family in args.families:
        wx[family] = subprocess_json(
            [sys.executable, __file__, *forwarded, "--case", family], f"wx-models {family}"
        )
    anemoi = anemoi_side(args)
    gpu: dict = {"skipped": "CUDA not available"}
    if args.gpu == "auto" and _cuda_available():
        gpu = subprocess_json(
            [sys.executable, __file__, *forwarded, "--case", "gpu"],
            "GraphCast-size case on the GPU",
        )
    report = {
        "bench": "models_step",
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("case",)},
        "wx": wx,
        "anemoi": anemoi,
        "ratios": compare(wx, anemoi),
        "gpu": gpu,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report))


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
