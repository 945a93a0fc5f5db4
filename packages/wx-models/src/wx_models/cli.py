"""``wx-models`` command-line interface."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from wx_models import __version__
from wx_utils.cli_helpers import make_parser, run_cli


def build_parser() -> argparse.ArgumentParser:
    parser, _commands = make_parser(
        prog="wx-models", version=__version__, description=__import__("wx_models").__doc__
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
