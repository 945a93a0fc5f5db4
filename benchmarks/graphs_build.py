#!/usr/bin/env python
"""Benchmark: build the GraphCast-style graph with wx-graphs, and with anemoi-graphs in the same run.

Graph (per size): a regular lat-lon grid with poles (``data``), the icosahedral multi-mesh at
refinement R (``hidden``), grid-to-mesh within 0.6 x the longest finest mesh edge, the
multi-mesh (levels 0..R), mesh-to-grid by containing triangle, edge length/direction and node
area-weight attributes. Each size is built in a fresh child process (so its peak memory is its
own): one cold build, then ``--repeats`` more; the median is reported, with a per-stage
breakdown, the save/load time and the counts.

The anemoi side runs ``bench_graph.py`` of ../shared/bench/anemoi with the python given by
``--anemoi-python`` (anemoi pins older zarr and torch, so it lives in its own environment):
TriNodes, CutOffEdges(0.6), MultiScaleEdges, KNNEdges(3) and the same attributes. Without
``--anemoi-python`` the comparison is skipped and the output says so.

Prints one JSON line on stdout; progress goes to stderr.

    uv run python benchmarks/graphs_build.py --sizes 1.0:5 --repeats 1          # quick
    uv run python benchmarks/graphs_build.py --sizes 1.0:5,0.25:6 \\
        --anemoi-python /work/anemoi-bench/venv/bin/python                      # full
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import memory_mb


def recipe(grid_deg: float, refinement: int) -> dict:
    return {
        "name": f"bench-{grid_deg:g}deg-r{refinement}",
        "nodes": {
            "data": {"kind": "regular", "resolution": grid_deg, "poles": True},
            "hidden": {"kind": "icosahedral", "refinement": refinement},
        },
        "edges": [
            {"source": "data", "target": "hidden", "builder": "grid2mesh", "radius_fraction": 0.6},
            {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
            {"source": "hidden", "target": "data", "builder": "mesh2grid"},
        ],
    }


def log(message: str) -> None:
    print(f"[graphs_build] {message}", file=sys.stderr, flush=True)


def staged_build(spec: dict) -> dict[str, float]:
    """The stages of ``build_graph`` timed one by one (same functions, same order)."""
    from wx_graphs.edges import build_edges, check_connected
    from wx_graphs.nodes import build_nodes, node_attributes

    stages, built = {}, {}
    for name, node_spec in spec["nodes"].items():
        start = time.perf_counter()
        built[name] = build_nodes(name, node_spec, base_dir=Path.cwd())
        node_attributes(name, built[name], node_spec)
        stages[f"nodes_{name}_s"] = time.perf_counter() - start
    for edge_spec in spec["edges"]:
        source, target = built[edge_spec["source"]], built[edge_spec["target"]]
        start = time.perf_counter()
        edges = build_edges({**edge_spec, "attributes": []}, source, target, key="bench")
        middle = time.perf_counter()
        from wx_graphs.attributes import edge_attributes

        edge_attributes(source.xyz, target.latitudes, target.longitudes, edges.edge_index)
        check_connected(edge_spec, edges, source, target, key="bench", allow=False)
        end = time.perf_counter()
        key = f"edges_{edge_spec['source']}_to_{edge_spec['target']}"
        stages[key + "_index_s"] = middle - start
        stages[key + "_attrs_s"] = end - middle
    return {key: round(value, 3) for key, value in stages.items()}


def worker(grid_deg: float, refinement: int, repeats: int) -> dict:
    """Build one size in this process and report times, memory and counts."""
    start = time.perf_counter()
    import numpy as np

    from wx_graphs import build_graph, load_graph, save_graph

    import_s = time.perf_counter() - start
    rss_after_import = memory_mb()
    spec = recipe(grid_deg, refinement)
    times, cpu_times = [], []
    for _ in range(repeats + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        graph = build_graph(spec)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        if len(times) <= repeats:
            del graph
    peak_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = staged_build(spec)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.safetensors"
        start = time.perf_counter()
        save_graph(graph, path)
        save_s = time.perf_counter() - start
        start = time.perf_counter()
        load_graph(path)
        load_s = time.perf_counter() - start
        size = path.stat().st_size
    encoder = graph.edges["data", "hidden"].edge_index
    return {
        "build_wall_s_first": round(times[0], 3),
        "build_wall_s_median": round(statistics.median(times[1:] or times), 3),
        "build_wall_s_repeats": [round(t, 3) for t in times[1:]],
        # CPU seconds of all threads: what the build costs regardless of other load
        "build_cpu_s_median": round(statistics.median(cpu_times[1:] or cpu_times), 3),
        "stages_s": stages,
        "import_s": round(import_s, 3),
        "save_s": round(save_s, 3),
        "load_s": round(load_s, 3),
        "graph_file_bytes": size,
        "peak_rss_mb": round(peak_build, 1),
        "rss_after_import_mb": round(rss_after_import, 1),
        "counts": {
            "nodes": {name: nodes.num_nodes for name, nodes in graph.nodes.items()},
            "edges": {f"{s}->{t}": e.num_edges for (s, t), e in graph.edges.items()},
        },
        "enc_data_nodes_unconnected": int(
            (np.bincount(encoder[0], minlength=graph.nodes["data"].num_nodes) == 0).sum()
        ),
        "kdtree_workers": os.environ.get("WX_GRAPHS_WORKERS", "-1 (all cores)"),
    }


def child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wx(grid_deg: float, refinement: int, repeats: int) -> dict:
    command = [sys.executable, __file__, "--worker", f"{grid_deg}:{refinement}"]
    command += ["--repeats", str(repeats)]
    before = child_cpu_s()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"wx worker failed:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_cpu_s_total"] = round(child_cpu_s() - before, 2)
    return figures


def default_anemoi_script() -> Path:
    from wx_utils.testdata import shared_data_dir

    folder = shared_data_dir()
    base = folder.parent if folder else Path("../shared")
    return base / "bench" / "anemoi" / "bench_graph.py"


def run_anemoi(python: str, script: Path, grid_deg: float, refinement: int, repeats: int):
    with tempfile.TemporaryDirectory() as workdir:
        command = [
            python,
            str(script),
            "--grid-deg",
            str(grid_deg),
            "--refinement",
            str(refinement),
        ]
        command += ["--repeats", str(repeats), "--workdir", workdir]
        before = child_cpu_s()
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        cpu = round(child_cpu_s() - before, 2)
    if result.returncode:
        log(f"anemoi bench failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
        return {"error": result.stderr.strip()[-500:]}
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_cpu_s_total"] = cpu  # import + every build + save, all threads
    return figures


def ratios(wx: dict, anemoi: dict | None) -> dict | None:
    if not anemoi or "error" in anemoi:
        return None
    return {
        "anemoi_over_wx_build_time": round(
            anemoi["build_wall_s_median"] / wx["build_wall_s_median"], 2
        ),
        "anemoi_over_wx_peak_rss": round(anemoi["peak_rss_mb"] / wx["peak_rss_mb"], 2),
        "anemoi_over_wx_process_cpu": round(
            anemoi["process_cpu_s_total"] / wx["process_cpu_s_total"], 2
        ),
    }


def parse_sizes(text: str) -> list[tuple[float, int]]:
    sizes = []
    for part in text.split(","):
        degrees, refinement = part.split(":")
        sizes.append((float(degrees), int(refinement)))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1.0:5,0.25:6", help="GRID_DEG:REFINEMENT,...")
    parser.add_argument("--repeats", type=int, default=2, help="builds after the first (median)")
    parser.add_argument("--anemoi-python", help="python of the anemoi environment")
    parser.add_argument("--anemoi-script", help="bench_graph.py (default ../shared/bench/anemoi)")
    parser.add_argument("--anemoi-repeats", type=int, default=None, help="default: --repeats")
    parser.add_argument("--workers", type=int, help="KD-tree threads (default: all cores)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workers:
        os.environ["WX_GRAPHS_WORKERS"] = str(args.workers)
    if args.worker:
        grid_deg, refinement = parse_sizes(args.worker)[0]
        print(json.dumps(worker(grid_deg, refinement, args.repeats)))
        return
    if not args.anemoi_python:
        log("anemoi-graphs comparison NOT run: no --anemoi-python given")
    script = Path(args.anemoi_script) if args.anemoi_script else default_anemoi_script()
    load_at_start = round(os.getloadavg()[0], 2)
    results = []
    for grid_deg, refinement in parse_sizes(args.sizes):
        log(f"wx-graphs: {grid_deg} degrees, refinement {refinement}")
        wx = run_wx(grid_deg, refinement, args.repeats)
        log(f"  build {wx['build_wall_s_median']} s, peak {wx['peak_rss_mb']} MB")
        anemoi = None
        if args.anemoi_python:
            log(f"anemoi-graphs: {grid_deg} degrees, refinement {refinement}")
            repeats = args.anemoi_repeats if args.anemoi_repeats is not None else args.repeats
            anemoi = run_anemoi(args.anemoi_python, script, grid_deg, refinement, repeats)
            if "error" not in anemoi:
                log(f"  build {anemoi['build_wall_s_median']} s, peak {anemoi['peak_rss_mb']} MB")
        results.append(
            {
                "grid_deg": grid_deg,
                "refinement": refinement,
                "wx": wx,
                "anemoi": anemoi,
                "ratios": ratios(wx, anemoi),
            }
        )
    print(
        json.dumps(
            {
                "bench": "graphs_build",
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
                "cpu_count": os.cpu_count(),
                "load_average_1min_at_start": load_at_start,
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                "anemoi": "compared" if args.anemoi_python else "not run: no --anemoi-python given",
                "sizes": results,
            }
        )
    )


if __name__ == "__main__":
    main()
