"""Make the small first-format-version checkpoint kept for compatibility tests (run once).

    uv run python packages/wx-inference/tests/data/make_v1_checkpoint.py

A 30-degree global grid (7 x 12 cells, poles included), an icosahedral mesh refined once, and a
tiny WeatherModel with fixed random weights (seed 0): ``t`` prognostic, ``insolation`` forcing,
``orog`` constant, one input step of 6 h. Its forecast from :func:`v1_input` is stored beside it
so the test can check that a newer wx-inference reproduces what this format version produced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import xarray as xr

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE / "wx-checkpoint-v1.safetensors"
EXPECTED = HERE / "wx-checkpoint-v1-expected.json"
LATITUDES = np.linspace(90.0, -90.0, 7)
LONGITUDES = np.arange(0.0, 360.0, 30.0)


def v1_input() -> xr.Dataset:
    """Analytic fields on the checkpoint's grid: a zonal temperature profile with a wave."""
    times = np.array(["2020-03-01T00", "2020-03-01T06", "2020-03-01T12"], dtype="datetime64[ns]")
    lat = np.deg2rad(LATITUDES)[None, :, None]
    lon = np.deg2rad(LONGITUDES)[None, None, :]
    hours = np.arange(3)[:, None, None]
    t = 250.0 + 40.0 * np.cos(lat) ** 2 + 3.0 * np.cos(lat) * np.sin(lon - 0.3 * hours)
    orog = 500.0 * (1 + np.sin(lat[0]) * np.cos(2 * lon[0]))
    return xr.Dataset(
        {
            "t": (("time", "latitude", "longitude"), t.astype(np.float32), {"units": "K"}),
            "orog": (
                ("time", "latitude", "longitude"),
                np.broadcast_to(orog, t.shape).astype(np.float32),
                {"units": "m"},
            ),
        },
        coords={"time": times, "latitude": LATITUDES, "longitude": LONGITUDES},
    )


def main() -> None:
    import wx_models
    from wx_graphs import build_graph
    from wx_inference.forecaster import Forecaster

    torch.manual_seed(0)
    graph = build_graph(
        {
            "nodes": {
                "data": {"kind": "regular", "resolution": 30.0, "poles": True},
                "hidden": {"kind": "icosahedral", "refinement": 1},
            },
            "edges": [
                {
                    "source": "data",
                    "target": "hidden",
                    "builder": "grid2mesh",
                    "radius_fraction": 0.6,
                },
                {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
                {"source": "hidden", "target": "data", "builder": "mesh2grid"},
            ],
        }
    )
    statistics = {
        "t": {
            "mean": 270.0,
            "stdev": 20.0,
            "minimum": 200.0,
            "maximum": 320.0,
            "tendency_mean": 0.0,
            "tendency_stdev": 1.0,
        },
        "insolation": {"mean": 0.3, "stdev": 0.3, "minimum": 0.0, "maximum": 1.1},
        "orog": {"mean": 500.0, "stdev": 300.0, "minimum": 0.0, "maximum": 1000.0},
    }
    model = wx_models.WeatherModel(
        graph=graph.to_hetero_data(),
        variables={"t": "prognostic", "insolation": "forcing", "orog": "constant"},
        statistics=statistics,
        input_steps=1,
        time_step="6h",
        latent_size=8,
        processor_layers=1,
        mlp_hidden_size=8,
        grid_shape=[7, 12],
    )
    wx_models.save_checkpoint(
        CHECKPOINT,
        model,
        metadata={
            "description": "first-format-version checkpoint kept for compatibility tests",
            "variables_metadata": {"t": {"units": "K"}, "orog": {"units": "m"}},
        },
    )
    forecaster = Forecaster.from_checkpoint(CHECKPOINT)
    inputs = HERE / "v1-input.nc"
    v1_input().to_netcdf(inputs)
    try:
        forecast = forecaster.forecast({"path": str(inputs)}, ["2020-03-01T00"], "12h")
    finally:
        inputs.unlink()
    expected = {
        "format_version": 1,
        "init_time": "2020-03-01T00",
        "lead_time": "12h",
        "t": forecast["t"].values[0].round(4).tolist(),
    }
    EXPECTED.write_text(json.dumps(expected) + "\n")
    print(CHECKPOINT, CHECKPOINT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
