"""``wx-inference`` command-line interface: ``run``, ``score``, ``plot`` and ``inspect``."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wx_inference import __version__
from wx_utils.cli_helpers import add_command, make_parser, run_cli
from wx_utils.dates import frequency_to_timedelta64, parse_datetime
from wx_utils.provenance import provenance

LOG = logging.getLogger(__name__)


def _run(args: argparse.Namespace) -> int:
    from wx_inference.config import load_run_config
    from wx_inference.run import run_forecast

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not Path(config).exists():
        config, overrides = None, [config, *overrides]  # only key=value overrides were given
    overrides += ["overwrite=true"] if args.overwrite else []
    path = run_forecast(load_run_config(config, overrides))
    print(path)
    return 0


def _area(text: str) -> list[float]:
    """``N/W/S/E`` in degrees, as MARS writes an area."""
    parts = text.split("/")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NORTH/WEST/SOUTH/EAST in degrees, e.g. 65/210/25/320"
        )
    return values


def _score(args: argparse.Namespace) -> int:
    from wx_inference.inputs import open_input
    from wx_inference.output import open_forecast
    from wx_inference.plots import forecast_maps, plot_scores
    from wx_inference.verify import forecast_variables, score_forecast

    forecast = open_forecast(args.forecast)
    names = args.variables or forecast_variables(forecast)
    truth = open_input(_input_spec(args.truth, args.truth_variable), names=names)
    table, _ = score_forecast(
        forecast,
        truth,
        climatology_period=args.climatology_period,
        window_days=args.window_days,
        truth_member=args.truth_member,
        variables=names,
        area=args.area,
        all_cells=args.all_cells,
    )
    table.metadata["forecast"] = {"path": str(args.forecast), **_checkpoint_link(forecast)}
    table.metadata["provenance"] = provenance(
        {key: value for key, value in vars(args).items() if key != "handler"}
    )
    output = Path(args.output)
    written = [*table.write(output)]
    leads = _lead_indices(forecast, args.map_leads)
    for name in names:
        units = str(forecast[name].attrs.get("units", ""))
        written.append(plot_scores(table, name, output / f"scores_{name}.png", units=units))
        written.append(
            forecast_maps(
                forecast, name, output / f"maps_{name}.png", truth=truth, lead_indices=leads
            )
        )
    _print_summary(table)
    for path in written:
        print(path)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from wx_inference.plots import forecast_maps, plot_scores, score_table_from_json

    output = Path(args.output)
    if str(args.path).endswith(".json"):
        table = score_table_from_json(json.loads(Path(args.path).read_text(encoding="utf-8")))
        for name in args.variables or list(table.values):
            print(plot_scores(table, name, output / f"scores_{name}.png"))
        return 0
    from wx_inference.inputs import open_input
    from wx_inference.output import open_forecast
    from wx_inference.verify import forecast_variables

    forecast = open_forecast(args.path)
    names = args.variables or forecast_variables(forecast)
    truth = (
        open_input(_input_spec(args.truth, args.truth_variable), names=names)
        if args.truth
        else None
    )
    init_index = _init_index(forecast, args.init_time)
    leads = _lead_indices(forecast, args.leads)
    for name in names:
        print(
            forecast_maps(
                forecast,
                name,
                output / f"maps_{name}.png",
                truth=truth,
                init_index=init_index,
                lead_indices=leads,
                member=args.member,
            )
        )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from wx_inference.checkpoint import describe_checkpoint, format_description

    description = describe_checkpoint(args.checkpoint)
    if args.json:
        print(json.dumps(description, indent=2, sort_keys=True, default=str))
    else:
        print(format_description(description))
    return 0


def _input_spec(path: str, mapping: list[str] | None) -> dict:
    variables = {}
    for item in mapping or []:
        if "=" not in item:
            raise ValueError(f"--truth-variable {item!r}: expected WX_NAME=FILE_NAME")
        key, value = item.split("=", 1)
        variables[key] = value
    return {"path": path, "variables": variables}


def _checkpoint_link(forecast) -> dict:
    header = forecast.attrs.get("wx", {})
    return {"checkpoint": header.get("checkpoint"), "input": header.get("input")}


def _lead_indices(forecast, leads: str | None) -> list[int] | None:
    if not leads:
        return None
    available = np.asarray(forecast["lead_time"].values).astype("timedelta64[s]")
    indices = []
    for text in leads.split(","):
        wanted = frequency_to_timedelta64(text.strip())
        found = np.flatnonzero(available == wanted)
        if found.size == 0:
            hours = [int(v) // 3600 for v in available.astype(np.int64)]
            raise ValueError(f"lead time {text!r} is not in the forecast (lead hours {hours})")
        indices.append(int(found[0]))
    return indices


def _init_index(forecast, init_time: str | None) -> int:
    if init_time is None:
        return 0
    available = np.asarray(forecast["init_time"].values).astype("datetime64[s]")
    found = np.flatnonzero(available == parse_datetime(init_time))
    if found.size == 0:
        raise ValueError(f"initial time {init_time} is not in the forecast ({available.tolist()})")
    return int(found[0])


def _print_summary(table) -> None:
    for name, kinds in table.values.items():
        for kind, metrics in kinds.items():
            rmse = ", ".join(f"{v:.3g}" for v in metrics["rmse"])
            print(f"{name} {kind} RMSE at {table.lead_hours.tolist()} h: {rmse}")


def build_parser() -> argparse.ArgumentParser:
    parser, commands = make_parser(
        prog="wx-inference", version=__version__, description=__import__("wx_inference").__doc__
    )
    run = add_command(commands, "run", _run, "run a forecast from a YAML config and overrides")
    run.add_argument("config", nargs="?", help="run configuration (YAML)")
    run.add_argument("overrides", nargs="*", help="key=value overrides, e.g. lead_time=5d")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output")

    score = add_command(commands, "score", _score, "score a forecast against a truth dataset")
    score.add_argument("forecast", help="forecast file written by wx-inference run")
    score.add_argument("--truth", required=True, help="wx dataset store or netCDF/GRIB/zarr")
    score.add_argument(
        "--truth-variable",
        action="append",
        metavar="WX=FILE",
        help="variable mapping for a truth file, e.g. t_850=t",
    )
    score.add_argument("--truth-member", type=int, default=0, help="truth member (default 0)")
    score.add_argument(
        "--climatology-period",
        default=None,
        metavar="START/END|none",
        help="truth period of the climatology (default: dates before the first initial time)",
    )
    score.add_argument("--window-days", type=int, default=61, help="climatology window (61)")
    score.add_argument("--variables", nargs="+", help="variables to score (default: all)")
    score.add_argument(
        "--area",
        type=_area,
        metavar="N/W/S/E",
        help="score only the cells inside this box, e.g. 65/210/25/320 (degrees)",
    )
    score.add_argument(
        "--all-cells",
        action="store_true",
        help="score a regional forecast's boundary cells too (default: its interior only)",
    )
    score.add_argument("--map-leads", help="lead times of the maps, e.g. 6h,24h,120h")
    score.add_argument("--output", required=True, help="folder for CSV, JSON and plots")

    plot = add_command(commands, "plot", _plot, "maps of a forecast, or plots of scores.json")
    plot.add_argument("path", help="forecast file, or scores.json from wx-inference score")
    plot.add_argument("--truth", help="truth dataset for truth and error maps")
    plot.add_argument("--truth-variable", action="append", metavar="WX=FILE")
    plot.add_argument("--variables", nargs="+", help="variables (default: all)")
    plot.add_argument("--init-time", help="initial time to map (default: the first)")
    plot.add_argument("--leads", help="lead times to map, e.g. 6h,24h (default: first/mid/last)")
    plot.add_argument("--member", type=int, help="member to map (default: ensemble mean)")
    plot.add_argument("--output", required=True, help="folder for the PNG files")

    inspect = add_command(commands, "inspect", _inspect, "describe an inference checkpoint")
    inspect.add_argument("checkpoint", help="checkpoint file (.safetensors)")
    inspect.add_argument("--json", action="store_true", help="print the description as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
