"""``wx-graphs`` command-line interface: create, inspect and describe graphs.

wx-graphs create RECIPE OUT        build the graph a recipe describes (progress shown)
wx-graphs inspect GRAPH            counts, degree/length distributions, PNG plots
wx-graphs describe RECIPE|GRAPH    a plain-language description
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from wx_graphs import __version__
from wx_graphs.describe import describe_graph, describe_recipe
from wx_graphs.graph_file import load_graph, save_graph
from wx_graphs.inspection import format_statistics, graph_statistics
from wx_graphs.recipe import build_graph, read_recipe
from wx_graphs.regions import Area
from wx_utils.cli_helpers import add_command, make_parser, run_cli

logger = logging.getLogger(__name__)
RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


def _create(args: argparse.Namespace) -> int:
    recipe_path, out = Path(args.recipe), Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out}: already exists (use --overwrite to replace it)")
    recipe = read_recipe(recipe_path)
    start = time.perf_counter()
    graph = build_graph(recipe, base_dir=recipe_path.parent, show_progress=True)
    elapsed = time.perf_counter() - start
    save_graph(graph, out)
    print(graph.summary())
    print(f"built in {elapsed:.2f} s; wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    path = Path(args.graph)
    graph = load_graph(path)
    stats = graph_statistics(graph)
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(f"{path}: graph {graph.recipe.get('name', '(unnamed)')}")
        print(format_statistics(stats))
    if not args.no_plots:
        from wx_graphs.plots import plot_all

        zoom = _parse_zoom(args.zoom) if args.zoom else None
        folder = Path(args.plots) if args.plots else path.parent
        for written in plot_all(graph, folder, path.stem, zoom=zoom):
            print(f"wrote {written}")
    return 0


def _parse_zoom(text: str) -> Area:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--zoom {text!r}: expected NORTH,WEST,SOUTH,EAST in degrees") from None
    return Area.parse(values, key="--zoom")


def _describe(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.suffix in RECIPE_SUFFIXES:
        print(describe_recipe(read_recipe(path), base_dir=path.parent))
    else:
        print(describe_graph(path))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser, commands = make_parser(
        prog="wx-graphs",
        version=__version__,
        description="Build, inspect and describe wx graphs (grid and mesh nodes, edge sets).",
    )
    create = add_command(commands, "create", _create, "build the graph a recipe describes")
    create.add_argument("recipe", help="YAML recipe (see examples/graphs)")
    create.add_argument("out", help="graph file to write (.safetensors)")
    create.add_argument("--overwrite", action="store_true", help="replace an existing file")
    inspect = add_command(commands, "inspect", _inspect, "statistics and PNG plots of a graph")
    inspect.add_argument("graph", help="graph file (.safetensors)")
    inspect.add_argument("--plots", help="folder for the PNG plots (default: beside the graph)")
    inspect.add_argument("--no-plots", action="store_true", help="print statistics only")
    inspect.add_argument("--zoom", help="area of the zoomed view: NORTH,WEST,SOUTH,EAST")
    inspect.add_argument("--json", action="store_true", help="print statistics as JSON")
    describe = add_command(
        commands, "describe", _describe, "describe a recipe (.yaml) or a graph file in words"
    )
    describe.add_argument("path", help="recipe (.yaml, .yml, .json) or graph file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
