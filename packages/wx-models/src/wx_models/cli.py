"""``wx-models`` command-line interface: ``summary``, ``inspect`` and ``card``."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from wx_models import __version__
from wx_models.card import model_card
from wx_models.checkpoint import (
    load_checkpoint,
    read_checkpoint_metadata,
    read_checkpoint_tensors,
)
from wx_models.encode_process_decode import FAMILIES, EncoderProcessorDecoder
from wx_models.flops import network_flops, parameter_counts
from wx_utils.cli_helpers import add_command, make_parser, run_cli
from wx_utils.metadata import atomic_write_text

logger = logging.getLogger(__name__)


def _network_from_args(args: argparse.Namespace) -> tuple[EncoderProcessorDecoder, str]:
    if args.checkpoint:
        model, _ = load_checkpoint(args.checkpoint)
        return model.network, f"checkpoint {args.checkpoint}"
    import wx_graphs  # the graph package reads graph files and recipes

    if args.graph:
        graph, source = wx_graphs.load_graph(args.graph), f"graph {args.graph}"
    else:
        recipe = wx_graphs.read_recipe(args.recipe)
        graph = wx_graphs.build_graph(recipe, base_dir=Path(args.recipe).parent)
        source = f"recipe {args.recipe}"
    network = EncoderProcessorDecoder(
        graph=graph.to_hetero_data(),
        input_size=args.input_steps * (args.variables + args.forcings),
        output_size=args.variables + args.diagnostics,
        family=args.family,
        latent_size=args.latent_size,
        processor_layers=args.processor_layers,
        mlp_hidden_size=args.mlp_hidden_size,
        heads=args.heads,
    )
    return network, source


def summary(args: argparse.Namespace) -> int:
    network, source = _network_from_args(args)
    parameters = parameter_counts(network)
    flops = network_flops(network, batch=args.batch)
    if args.json:
        print(
            json.dumps(
                {
                    "source": source,
                    "sizes": network.sizes,
                    "graph": network.graph.counts(),
                    "batch": args.batch,
                    "parameters": parameters,
                    "total_parameters": sum(parameters.values()),
                    "flops": flops,
                }
            )
        )
        return 0
    sizes, counts = network.sizes, network.graph.counts()
    print(
        f"{source}: {sizes['family']}, latent {sizes['latent_size']}, "
        f"{sizes['processor_layers']} processor layers, MLP hidden {sizes['mlp_hidden_size']}, "
        f"{sizes['heads']} heads"
    )
    print(
        "graph: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in counts.items())
    )
    print(
        f"per cell: {sizes['input_size']} inputs, {sizes['output_size']} outputs; batch {args.batch}"
    )
    print()
    print(f"{'module':<28}{'parameters':>14}")
    for name, count in parameters.items():
        print(f"{name:<28}{count:>14,}")
    print(f"{'total':<28}{sum(parameters.values()):>14,}")
    print()
    print(f"{'component':<28}{'forward GFLOP':>16}{'backward GFLOP':>16}")
    for name, item in flops["components"].items():
        print(f"{name:<28}{item['forward'] / 1e9:>16.3f}{item['backward'] / 1e9:>16.3f}")
    print(f"{'total':<28}{flops['forward'] / 1e9:>16.3f}{flops['backward'] / 1e9:>16.3f}")
    print(
        f"training step (forward + backward): {flops['step'] / 1e9:.3f} GFLOP "
        "(matrix multiplies; see wx_models.flops)"
    )
    return 0


def inspect(args: argparse.Namespace) -> int:
    metadata = read_checkpoint_metadata(args.checkpoint)
    verified = "not checked (--no-verify)"
    if not args.no_verify:
        read_checkpoint_tensors(args.checkpoint)
        verified = "ok"
    if args.json:
        print(json.dumps({**metadata, "checksum_verified": verified == "ok"}, sort_keys=True))
        return 0
    arguments = metadata["model"]["arguments"]
    roles = metadata["variables"]["roles"]
    print(f"{args.checkpoint}: {metadata['format']} version {metadata['format_version']}")
    print(f"checksum: {verified}")
    print(
        f"model: {arguments['family']}, {metadata['model']['parameters']:,} parameters, "
        f"latent {arguments['latent_size']}, {arguments['processor_layers']} processor layers"
    )
    print(f"time step {metadata['time_step']}, {metadata['input_steps']} input step(s)")
    ordered = [*metadata["variables"]["input"], *metadata["variables"]["output"]]
    for role in ("prognostic", "forcing", "constant", "diagnostic"):
        names = [name for name in dict.fromkeys(ordered) if roles[name] == role]
        print(f"{role}: {', '.join(names) if names else '-'}")
    print(f"grid: {metadata['grid']['cells']} cells, shape {metadata['grid']['shape']}")
    print(
        "graph: "
        + ", ".join(
            f"{k} {v}"
            for k, v in {**metadata["graph"]["nodes"], **metadata["graph"]["edges"]}.items()
        )
    )
    print(f"tensors: {metadata['tensors']['count']} ({metadata['tensors']['bytes']:,} bytes)")
    known = {
        "format",
        "format_version",
        "provenance",
        "model",
        "variables",
        "time_step",
        "input_steps",
        "graph",
        "grid",
        "tensors",
        "checksum",
    }
    extra = sorted(set(metadata) - known)
    print(f"caller metadata: {', '.join(extra) if extra else '-'}")
    return 0


def card(args: argparse.Namespace) -> int:
    if not args.no_verify:
        read_checkpoint_tensors(args.checkpoint)
    text = model_card(read_checkpoint_metadata(args.checkpoint))
    if args.output:
        atomic_write_text(args.output, text)
        logger.info("wrote the model card to %s", args.output)
    else:
        print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser, commands = make_parser(
        prog="wx-models", version=__version__, description=__import__("wx_models").__doc__
    )
    sub = add_command(
        commands,
        "summary",
        summary,
        "parameters per module and FLOPs per step for a graph and variable count",
    )
    source = sub.add_mutually_exclusive_group(required=True)
    source.add_argument("--graph", help="wx-graphs graph file (.safetensors)")
    source.add_argument("--recipe", help="wx-graphs recipe (YAML), built on the fly")
    source.add_argument("--checkpoint", help="a wx checkpoint (its own sizes and graph)")
    sub.add_argument("--variables", type=int, default=10, help="prognostic variables (10)")
    sub.add_argument("--forcings", type=int, default=0, help="forcing + constant variables (0)")
    sub.add_argument("--diagnostics", type=int, default=0, help="diagnostic variables (0)")
    sub.add_argument("--input-steps", type=int, default=2, help="input time steps (2)")
    sub.add_argument("--family", choices=FAMILIES, default="gnn")
    sub.add_argument("--latent-size", type=int, default=128)
    sub.add_argument("--processor-layers", type=int, default=4)
    sub.add_argument("--mlp-hidden-size", type=int, default=128)
    sub.add_argument("--heads", type=int, default=4)
    sub.add_argument("--batch", type=int, default=1)
    sub.add_argument("--json", action="store_true", help="print one JSON object")
    sub = add_command(commands, "inspect", inspect, "show a checkpoint's header and verify it")
    sub.add_argument("checkpoint")
    sub.add_argument("--json", action="store_true", help="print the whole header as JSON")
    sub.add_argument("--no-verify", action="store_true", help="skip the checksum check")
    sub = add_command(commands, "card", card, "write a Markdown model card of a checkpoint")
    sub.add_argument("checkpoint")
    sub.add_argument("-o", "--output", help="write to this file instead of standard output")
    sub.add_argument("--no-verify", action="store_true", help="skip the checksum check")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
