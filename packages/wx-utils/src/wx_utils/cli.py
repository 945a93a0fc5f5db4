"""``wx-utils``: provenance of this environment and metadata of wx artifacts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from wx_utils import __version__
from wx_utils.artifacts import read_artifact_metadata
from wx_utils.cli_helpers import add_command, make_parser, run_cli
from wx_utils.provenance import provenance


def _provenance(args: argparse.Namespace) -> int:
    print(json.dumps(provenance(), indent=2, sort_keys=True))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    metadata = read_artifact_metadata(args.path)
    if args.json:
        print(json.dumps(metadata, indent=2, sort_keys=True))
        return 0
    print(f"{args.path}: {metadata['format']} (format version {metadata['format_version']})")
    for key in sorted(metadata):
        if key in ("format", "format_version"):
            continue
        value = metadata[key]
        text = json.dumps(value, sort_keys=True)
        if len(text) > 200 and not args.full:
            text = text[:197] + "..."
        print(f"  {key}: {text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser, commands = make_parser(
        prog="wx-utils",
        version=__version__,
        description="Provenance of this environment and metadata of wx artifacts.",
    )
    add_command(commands, "provenance", _provenance, "print this environment's provenance record")
    inspect = add_command(commands, "inspect", _inspect, "print the metadata of a wx artifact")
    inspect.add_argument("path", help="dataset store, graph file, checkpoint or forecast")
    inspect.add_argument("--json", action="store_true", help="print the whole header as JSON")
    inspect.add_argument("--full", action="store_true", help="do not shorten long values")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
