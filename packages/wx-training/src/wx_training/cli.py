"""``wx-training`` command-line interface: train, manage configs, sync MLflow."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from wx_training import __version__
from wx_utils.cli_helpers import add_command, make_parser, run_cli


def _train(args: argparse.Namespace) -> int:
    from wx_training.config import compose_config

    config = compose_config(
        args.overrides, config_name=args.config_name, config_dir=args.config_dir
    )
    if args.print_config:
        print(OmegaConf.to_yaml(config, resolve=True), end="")
        return 0
    from wx_training.train import train

    summary = train(config)
    print(json.dumps(summary, sort_keys=True))
    return 0


def _config_export(args: argparse.Namespace) -> int:
    from wx_training.config import export_config

    written = export_config(args.directory, force=args.force)
    print(f"wrote {len(written)} config files to {args.directory}; use them with")
    print(f"  wx-training train --config-dir {args.directory} [--config-name NAME] [key=value ...]")
    return 0


def _config_validate(args: argparse.Namespace) -> int:
    from wx_training.config import load_config_file

    _, kind = load_config_file(args.file)
    print(f"{args.file}: valid ({kind})")
    return 0


def _config_list(args: argparse.Namespace) -> int:
    from wx_training.config import packaged_config_names, packaged_group_options

    print("configs (--config-name): " + ", ".join(packaged_config_names()))
    for group, options in packaged_group_options().items():
        print(f"{group}=: " + ", ".join(options))
    return 0


def _mlflow_sync(args: argparse.Namespace) -> int:
    from wx_training.tracking import sync_run

    uploaded = sync_run(Path(args.run_dir), uri=args.uri)
    print(
        f"{args.run_dir}: uploaded {uploaded['metrics']} metric values and {uploaded['artifacts']} artifacts"
    )
    return 0


def _help(parser: argparse.ArgumentParser):
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return show


def build_parser() -> argparse.ArgumentParser:
    parser, commands = make_parser(
        prog="wx-training", version=__version__, description=__import__("wx_training").__doc__
    )
    train = add_command(commands, "train", _train, "train a model from a Hydra config")
    train.add_argument(
        "--config-dir", default=None, help="your config directory (default: the packaged configs)"
    )
    train.add_argument(
        "--config-name", default="config", help="primary config name (default: config)"
    )
    train.add_argument(
        "--print-config", action="store_true", help="print the composed config and exit"
    )
    train.add_argument(
        "overrides",
        nargs="*",
        help="key=value overrides, e.g. data=ncep_air training.max_steps=100",
    )

    config = add_command(commands, "config", None, "export, validate and list configs")
    config.set_defaults(handler=_help(config))
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION")
    export = add_command(
        config_commands, "export", _config_export, "copy the packaged configs out for editing"
    )
    export.add_argument("directory", help="destination directory (new or empty)")
    export.add_argument("--force", action="store_true", help="write into a non-empty directory")
    validate = add_command(
        config_commands, "validate", _config_validate, "check a config file against the schema"
    )
    validate.add_argument(
        "file", help="a primary config, a group option (e.g. data/x.yaml) or a run's config.yaml"
    )
    add_command(
        config_commands, "list", _config_list, "list the packaged configs and group options"
    )

    mlflow = add_command(commands, "mlflow", None, "MLflow helpers")
    mlflow.set_defaults(handler=_help(mlflow))
    mlflow_commands = mlflow.add_subparsers(dest="mlflow_command", metavar="ACTION")
    sync = add_command(
        mlflow_commands, "sync", _mlflow_sync, "upload what a run directory holds that MLflow lacks"
    )
    sync.add_argument("run_dir", help="a training run directory")
    sync.add_argument(
        "--uri", default=None, help="tracking URI to upload to (default: the run's own)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
