"""``wx-datasets`` command-line interface: create, finalise, inspect, validate, compare, plot."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence

from wx_datasets import __version__
from wx_utils.cli_helpers import add_command, make_parser, run_cli

LOG = logging.getLogger(__name__)


def _create(args: argparse.Namespace) -> int:
    from wx_datasets.build import create, parse_part

    create(
        args.recipe,
        args.output,
        overwrite=args.overwrite,
        resume=args.resume,
        part=parse_part(args.part) if args.part else None,
        scheduler=args.scheduler,
        workers=args.workers,
        block_dates=args.block_dates,
    )
    return 0


def _finalise(args: argparse.Namespace) -> int:
    from wx_datasets.build import finalise

    header = finalise(args.path)
    print(f"{args.path}: complete, checksum {header['checksum']}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from wx_datasets.describe import describe, format_description

    info = describe(args.path)
    print(json.dumps(info, indent=2) if args.json else format_description(info))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from wx_datasets.validate import validate_dataset

    problems = validate_dataset(args.path)
    for problem in problems:
        print(f"{args.path}: {problem}")
    if problems:
        print(f"{args.path}: {len(problems)} problem(s) found")
        return 1
    print(f"{args.path}: valid")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from wx_datasets.compare import compare_datasets

    differences = compare_datasets(args.first, args.second, tolerance=args.tolerance)
    for line in differences:
        print(line)
    print(f"{args.first} and {args.second}: {'differ' if differences else 'identical'}")
    return 1 if differences else 0


def build_parser() -> argparse.ArgumentParser:
    parser, commands = make_parser(
        prog="wx-datasets",
        version=__version__,
        description="Build ML-ready zarr datasets from recipes, and inspect, validate and compare them.",
    )
    create = add_command(commands, "create", _create, "build a dataset store from a YAML recipe")
    create.add_argument("recipe", help="YAML recipe")
    create.add_argument("output", help="store directory to write")
    create.add_argument("--overwrite", action="store_true", help="replace an existing store")
    create.add_argument("--resume", action="store_true", help="continue an interrupted build")
    create.add_argument("--part", help="build only part i of N (e.g. 2/4); finish with 'finalise'")
    create.add_argument(
        "--scheduler",
        default="threads",
        help="threads (default), processes, synchronous, or a dask.distributed scheduler address",
    )
    create.add_argument("--workers", type=int, default=None, help="local workers (default: CPUs)")
    create.add_argument(
        "--block-dates", type=int, default=None, help="dates per task (default: ~64 MiB)"
    )
    finalise = add_command(
        commands, "finalise", _finalise, "merge statistics and complete a store built in parts"
    )
    finalise.add_argument("path")
    inspect = add_command(
        commands, "inspect", _inspect, "describe a store: variables, dates, grid, size, provenance"
    )
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    validate = add_command(
        commands, "validate", _validate, "check chunks, NaN policies, statistics and checksums"
    )
    validate.add_argument("path")
    compare = add_command(commands, "compare", _compare, "compare two stores field by field")
    compare.add_argument("first")
    compare.add_argument("second")
    compare.add_argument("--tolerance", type=float, default=0.0, help="largest allowed |a - b|")
    _add_plot(commands)
    return parser


def _add_plot(commands: argparse._SubParsersAction) -> None:
    """The ``plot`` command comes from wx_datasets.plotting when it is present."""
    try:
        from wx_datasets.plotting import add_plot_command
    except ImportError as error:
        LOG.debug("no plot command: %s", error)
        return
    add_plot_command(commands)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
