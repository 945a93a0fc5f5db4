"""Benchmark wx-datasets: build a store from netCDF, then random training reads; vs anemoi-datasets.

1. netCDF input: 1460 6-hourly dates x 10 float32 variables on the 1-degree global grid
   (181 x 360 = 65160 cells), the file the anemoi reference script writes (same generator,
   seed 0). With ``--anemoi-python`` that script runs first and its very file is used;
   otherwise this script writes the same file.
2. ``wx-datasets create`` (a subprocess, timed like anemoi's ``create``) with 1 and 2 workers.
3. 500 random samples ``view[i:i+2]`` (2 consecutive dates, all variables) through
   ``open_dataset``, cold (page cache of the store evicted with posix_fadvise DONTNEED before
   each pass, as the anemoi script does) and warm, median of ``--passes`` passes; the same reads
   straight from zarr-python (``zarr.open_array(store/data)[i:i+2]``) as the limit.
4. With ``--anemoi-python PATH``: anemoi-datasets ``create`` and ``open_dataset`` reads on the
   same file, same sample indices (``bench_dataset.py`` of ../shared/bench/anemoi).

Prints one JSON line (build MB/s of netCDF input, samples/s, GB/s, ratios); logs on stderr.
Usage: uv run python benchmarks/datasets_build_read.py [--dates 1460] [--vars 10] [--samples 500]
       [--passes 3] [--workdir DIR] [--anemoi-python PATH] [--scheduler threads|processes]
Quick run: --dates 40 --vars 2 --samples 50 --passes 1
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ANEMOI_SCRIPT = (
    Path(__file__).resolve().parents[2] / "shared" / "bench" / "anemoi" / "bench_dataset.py"
)
VARIABLE_NAMES = [
    "t2m",
    "u10",
    "v10",
    "msl",
    "sp",
    "tcw",
    "skt",
    "z500",
    "t850",
    "q700",
    "w01",
    "w02",
    "w03",
    "w04",
]
REFERENCE = {
    "anemoi_create_s_3p8GB": 76,
    "anemoi_build_MB_per_s": 50,
    "anemoi_cold_samples_per_s": 330,
    "anemoi_warm_samples_per_s": 608,
}


def log(message: str) -> None:
    print(f"[datasets_build_read] {message}", file=sys.stderr, flush=True)


def write_netcdf(path: Path, dates: int, variables: int) -> list[str]:
    """The anemoi script's synthetic file, written one variable at a time (bounded memory)."""
    import netCDF4

    rng = np.random.default_rng(0)
    lats = np.linspace(90.0, -90.0, 181)
    latfac = np.cos(np.deg2rad(lats))[None, :, None].astype(np.float32)
    names = [
        VARIABLE_NAMES[k] if k < len(VARIABLE_NAMES) else f"v{k:02d}" for k in range(variables)
    ]
    with netCDF4.Dataset(path, "w", format="NETCDF4") as out:
        out.createDimension("time", dates)
        out.createDimension("latitude", 181)
        out.createDimension("longitude", 360)
        time_var = out.createVariable("time", "i8", ("time",))
        time_var.units = "hours since 2021-01-01 00:00:00"
        time_var.calendar = "proleptic_gregorian"
        time_var[:] = np.arange(dates) * 6
        for name, values, units in (
            ("latitude", lats, "degrees_north"),
            ("longitude", np.arange(360.0), "degrees_east"),
        ):
            variable = out.createVariable(name, "f8", (name,))
            variable.units, variable.standard_name = units, name
            variable[:] = values
        for k, name in enumerate(names):
            field = rng.standard_normal((dates, 181, 360), dtype=np.float32)
            field *= np.float32(1.0 + k)
            field += np.float32(100.0 * k) * latfac
            variable = out.createVariable(
                name, "f4", ("time", "latitude", "longitude"), fill_value=np.float32(np.nan)
            )
            variable.units, variable.long_name = "1", name
            variable[:] = field
    return names


def store_files(path: Path) -> list[str]:
    return [f for f in glob.glob(os.path.join(path, "**"), recursive=True) if os.path.isfile(f)]


def evict(paths: list[str]) -> None:
    for name in paths:
        handle = os.open(name, os.O_RDONLY)
        try:
            os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(handle)


def subprocess_environment(workdir: Path) -> dict[str, str]:
    """Bytecode cached under the work folder: pip compiled the anemoi venv's bytecode at install
    time, so without a cache our interpreter would recompile pandas and xarray at every start."""
    env = {**os.environ, "WX_PROGRESS": "0", "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode(workdir: Path) -> None:
    imports = "import wx_datasets.build, wx_datasets.cli, wx_datasets.sources.files, dask.threaded, dask.multiprocessing"
    subprocess.run([sys.executable, "-c", imports], check=True, env=subprocess_environment(workdir))


def build(recipe: Path, output: Path, *, workers: int, scheduler: str) -> float:
    command = [
        sys.executable,
        "-m",
        "wx_datasets.cli",
        "create",
        str(recipe),
        str(output),
        "--overwrite",
        "--workers",
        str(workers),
        "--scheduler",
        scheduler,
    ]
    start = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, env=subprocess_environment(output.parent)
    )
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"wx-datasets create failed: {result.stderr[-2000:]}")
    return elapsed


def read_passes(
    open_reader, starts: np.ndarray, files: list[str], *, passes: int, cold: bool
) -> dict:
    rates, opens, size = [], [], 0
    for _ in range(passes):
        if cold:
            evict(files)
        start = time.perf_counter()
        reader = open_reader()
        opens.append(time.perf_counter() - start)
        start = time.perf_counter()
        size = 0
        for i in starts:
            size += reader(int(i)).nbytes
        rates.append(len(starts) / (time.perf_counter() - start))
    median = statistics.median(rates)
    return {
        "samples_per_s": round(median, 1),
        "GB_per_s": round(median * size / len(starts) / 1e9, 3),
        "samples_per_s_all": [round(r, 1) for r in rates],
        "open_s_median": round(statistics.median(opens), 4),
    }


def wx_reader(store: Path):
    from wx_datasets import open_dataset

    def make():
        view = open_dataset(store)
        return lambda i: view[i : i + 2]

    return make


def zarr_reader(store: Path):
    import zarr

    def make():
        array = zarr.open_array(store / "data", mode="r")
        return lambda i: array[i : i + 2]

    return make


def run_anemoi(python: str, workdir: Path, args) -> dict:
    command = [
        python,
        str(ANEMOI_SCRIPT),
        "--workdir",
        str(workdir),
        "--dates",
        str(args.dates),
        "--vars",
        str(args.vars),
        "--samples",
        str(args.samples),
        "--passes",
        str(args.passes),
    ]
    log("running the anemoi reference: " + " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(
            f"anemoi benchmark failed: {result.stdout[-2000:]} {result.stderr[-2000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dates", type=int, default=1460)
    parser.add_argument("--vars", type=int, default=10)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument(
        "--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "wx-bench-datasets")
    )
    parser.add_argument(
        "--anemoi-python", default=None, help="python of the anemoi reference environment"
    )
    parser.add_argument(
        "--scheduler", default="threads", help="wx build scheduler (threads or processes)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the files in --workdir")
    args = parser.parse_args()

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tag = f"syn_{args.dates}d_{args.vars}v_1deg"
    out: dict = {
        "bench": "datasets_build_read",
        "n_dates": args.dates,
        "n_vars": args.vars,
        "grid": [181, 360],
        "samples": args.samples,
        "passes": args.passes,
        "reference_issue": REFERENCE,
    }
    anemoi = None
    if args.anemoi_python:
        anemoi = run_anemoi(args.anemoi_python, workdir / "anemoi", args)
        netcdf = workdir / "anemoi" / f"{tag}.nc"
        out["anemoi"] = {
            k: anemoi.get(k)
            for k in (
                "create_s",
                "netcdf_bytes",
                "zarr_bytes",
                "zarr_compressor",
                "matches_source",
                "versions",
            )
        }
        out["anemoi"]["read_cold"] = anemoi["read_cold"]
        out["anemoi"]["read_warm"] = anemoi["read_warm"]
    else:
        out["anemoi"] = "not run: pass --anemoi-python PATH (see ../shared/bench/anemoi/README.md)"
        netcdf = workdir / f"{tag}.nc"
        log(f"writing {netcdf}")
        start = time.perf_counter()
        write_netcdf(netcdf, args.dates, args.vars)
        out["netcdf_write_s"] = round(time.perf_counter() - start, 2)
    netcdf_bytes = netcdf.stat().st_size
    out["netcdf_bytes"] = netcdf_bytes

    end = np.datetime64("2021-01-01T00:00") + np.timedelta64(6 * (args.dates - 1), "h")
    recipe = workdir / f"{tag}.yaml"
    recipe.write_text(
        "description: synthetic benchmark dataset\n"
        f"dates: {{start: '2021-01-01T00:00', end: '{end}', frequency: 6h}}\n"
        f"input: {{type: netcdf, path: '{netcdf}'}}\n"
    )
    store = workdir / f"{tag}.wx.zarr"
    warm_bytecode(workdir)
    out["build"] = {}
    for workers in (1, 2):
        log(f"building with {workers} worker(s)")
        seconds = build(recipe, store, workers=workers, scheduler=args.scheduler)
        out["build"][f"workers_{workers}"] = {
            "create_s": round(seconds, 2),
            "MB_per_s": round(netcdf_bytes / 1e6 / seconds, 1),
        }
    files = store_files(store)
    out["store_bytes"] = sum(os.path.getsize(f) for f in files)
    out["store_files"] = len(files)

    starts = np.random.default_rng(0).integers(
        0, args.dates - 1, size=args.samples
    )  # as anemoi's script
    from wx_datasets import open_dataset

    view = open_dataset(store)
    with __import__("xarray").open_dataset(netcdf) as source:
        i = int(starts[0])
        expected = np.stack([source[v].isel(time=i).values.ravel() for v in view.variables])
    out["matches_source"] = bool(np.array_equal(view[i][:, 0], expected))
    data_files = store_files(store / "data")
    for mode, cold in (("cold", True), ("warm", False)):
        log(f"reading {args.samples} samples, {mode}")
        out[f"read_{mode}"] = {
            "wx": read_passes(wx_reader(store), starts, data_files, passes=args.passes, cold=cold),
            "zarr": read_passes(
                zarr_reader(store), starts, data_files, passes=args.passes, cold=cold
            ),
        }
    best_build = max(b["MB_per_s"] for b in out["build"].values())
    ratios = {
        f"read_{m}_wx_over_zarr": round(
            out[f"read_{m}"]["wx"]["samples_per_s"] / out[f"read_{m}"]["zarr"]["samples_per_s"], 2
        )
        for m in ("cold", "warm")
    }
    if anemoi is not None:
        fastest = min(b["create_s"] for b in out["build"].values())
        ratios["build_speedup_over_anemoi"] = round(anemoi["create_s"] / fastest, 2)
        for mode in ("cold", "warm"):
            theirs = anemoi[f"read_{mode}"]["samples_per_s_median"]
            ratios[f"read_{mode}_wx_over_anemoi"] = round(
                out[f"read_{mode}"]["wx"]["samples_per_s"] / theirs, 2
            )
    out["best_build_MB_per_s"] = best_build
    out["ratios"] = ratios
    if not args.keep:
        shutil.rmtree(store, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
