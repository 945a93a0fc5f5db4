"""Shared command-line plumbing: every ``wx-<name>`` tool builds its parser and runs through here.

Errors that users cause (bad files, keys, values) are printed as one line ``wx-<name>: error:
...`` with exit status 2 instead of a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from wx_utils.logs import setup_logging

USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    KeyError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def make_parser(
    *, prog: str, version: str, description: str
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """A parser with ``--version``, ``--log-level`` and ``--debug``, and its subcommand table."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {version}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING, ...")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, commands


def add_command(
    commands: argparse._SubParsersAction, name: str, handler: Callable[..., int | None], help: str
) -> argparse.ArgumentParser:
    """Register a subcommand whose ``handler(args)`` returns an exit status (None means 0)."""
    sub = commands.add_parser(name, help=help, description=help)
    sub.set_defaults(handler=handler)
    return sub


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, set up logging, run the chosen handler; user errors exit with status 2."""
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    setup_logging(args.log_level)
    try:
        status = args.handler(args)
    except USER_ERRORS as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)
