"""Session fixtures: a small NCEP dataset store, and checkpoints trained here with wx-models.

wx-inference never imports wx-training: the checkpoints are made with ``wx_models`` directly,
a tiny ``WeatherModel`` trained for a few dozen steps with a plain torch loop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wx_utils.testdata import shared_data_file

NCEP_FORCINGS = ["cos_julian_day", "sin_julian_day", "insolation"]
ERA5_VARIABLES = ["t_850", "z_500"]


def _shared(name: str):
    try:
        return shared_data_file(name)
    except FileNotFoundError as error:
        pytest.skip(str(error))


def train_briefly(model, samples: np.ndarray, *, steps: int, lr: float, seed: int = 0):
    """Fit ``model`` on ``samples`` ``[sample, time, cell, input_variable]`` for ``steps``.

    The model sees ``input_steps`` consecutive states and learns the next prognostic values.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    prognostic = len(model.prognostic_variables)
    window = model.input_steps
    model.train()
    for _ in range(steps):
        sample = rng.integers(0, samples.shape[0], size=4)
        start = rng.integers(0, samples.shape[1] - window, size=4)
        x = np.stack([samples[s, t : t + window] for s, t in zip(sample, start, strict=True)])
        y = np.stack(
            [samples[s, t + window, :, :prognostic] for s, t in zip(sample, start, strict=True)]
        )
        prediction = model(torch.from_numpy(x))[..., :prognostic]
        loss = (
            (model.normalise_outputs(prediction) - model.normalise_outputs(torch.from_numpy(y)))
            ** 2
        ).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(1)  # 2 shared cores: one thread avoids oversubscription


EDGES = [  # encoder, multi-mesh processor, decoder (GraphCast layout)
    {"source": "data", "target": "hidden", "builder": "grid2mesh", "radius_fraction": 0.6},
    {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
    {"source": "hidden", "target": "data", "builder": "mesh2grid"},
]


@pytest.fixture(scope="session")
def ncep_store(tmp_path_factory):
    """A wx dataset store of NCEP air temperature, 1 Nov 2013 to 31 Jan 2014 (6-hourly)."""
    from wx_datasets.build import create

    source = _shared("air_temperature.nc")
    recipe = {
        "name": "ncep-air-small",
        "dates": {"start": "2013-11-01T00:00", "end": "2014-01-31T18:00", "frequency": "6h"},
        "input": {"type": "netcdf", "path": str(source), "variables": ["air"]},
        "statistics": {"start": "2013-11-01T00:00", "end": "2013-12-31T18:00"},
    }
    return create(recipe, tmp_path_factory.mktemp("ncep") / "air.zarr", scheduler="synchronous")


@pytest.fixture(scope="session")
def ncep_checkpoint(ncep_store, tmp_path_factory):
    """A regional checkpoint (interior mask two cells in from the edges) trained on 2013."""
    import wx_models
    from wx_datasets import open_dataset
    from wx_datasets.forcings import compute_forcings
    from wx_graphs import build_graph

    view = open_dataset(ncep_store)
    graph = build_graph(
        {
            "nodes": {
                "data": {
                    "kind": "dataset",
                    "path": str(ncep_store),
                    "attributes": {"interior_mask": {"area": [70.0, 205.0, 20.0, 325.0]}},
                },
                "hidden": {
                    "kind": "icosahedral",
                    "refinement": 3,
                    "area": [75.0, 200.0, 15.0, 330.0],
                    "margin_deg": 10.0,
                },
            },
            "edges": EDGES,
        }
    )
    statistics = wx_models.statistics_from_arrays(
        view.variables, view.statistics, view.statistics_tendencies
    )
    for name in NCEP_FORCINGS:
        statistics[name] = {"mean": 0.0, "stdev": 1.0, "minimum": -1.0, "maximum": 1.0}
    model = wx_models.WeatherModel(
        graph=graph.to_hetero_data(),
        variables={"air": "prognostic", **dict.fromkeys(NCEP_FORCINGS, "forcing")},
        statistics=statistics,
        input_steps=2,
        time_step="6h",
        latent_size=16,
        processor_layers=2,
        mlp_hidden_size=16,
        latitudes=view.latitudes,
        longitudes=view.longitudes,
        grid_shape=view.grid_shape,
    )
    training = view.dates < np.datetime64("2014-01-01")
    air = view[0 : int(training.sum())][:, 0, 0]  # [time, cell]
    forcings = compute_forcings(
        NCEP_FORCINGS, view.dates[training], view.latitudes, view.longitudes
    )
    states = np.concatenate([air[:, None], forcings], axis=1).transpose(0, 2, 1)
    train_briefly(model, states[None].astype(np.float32), steps=40, lr=3e-3)
    path = tmp_path_factory.mktemp("checkpoints") / "ncep-regional.safetensors"
    wx_models.save_checkpoint(
        path,
        model,
        metadata={"variables_metadata": view.variables_metadata, "training": {"steps": 40}},
    )
    return path


@pytest.fixture(scope="session")
def era5_checkpoint(tmp_path_factory):
    """A global 12-hourly checkpoint of t_850 and z_500 trained on the ERA5 EDA members."""
    import xarray as xr

    import wx_models
    from wx_graphs import build_graph

    source = _shared("era5-levels-members.nc")
    dataset = xr.open_dataset(source)
    fields = np.stack(
        [dataset["t"].sel(isobaricInhPa=850).values, dataset["z"].sel(isobaricInhPa=500).values],
        axis=-1,
    )
    states = fields.reshape(10, 4, -1, 2).astype(np.float32)  # [member, time, cell, variable]
    graph = build_graph(
        {
            "nodes": {
                "data": {"kind": "file", "path": str(source)},
                "hidden": {"kind": "icosahedral", "refinement": 2},
            },
            "edges": EDGES,
        }
    )
    statistics = {}
    for position, name in enumerate(ERA5_VARIABLES):
        values = states[..., position]
        tendency = np.diff(states[..., position], axis=1)
        statistics[name] = {
            "mean": float(values.mean()),
            "stdev": float(values.std()),
            "minimum": float(values.min()),
            "maximum": float(values.max()),
            "tendency_mean": float(tendency.mean()),
            "tendency_stdev": float(tendency.std()),
        }
    data = graph.nodes["data"]
    model = wx_models.WeatherModel(
        graph=graph.to_hetero_data(),
        variables=dict.fromkeys(ERA5_VARIABLES, "prognostic"),
        statistics=statistics,
        input_steps=1,
        time_step="12h",
        latent_size=16,
        processor_layers=1,
        mlp_hidden_size=16,
        latitudes=data.latitudes,
        longitudes=data.longitudes,
        grid_shape=[61, 120],
    )
    train_briefly(model, states, steps=15, lr=3e-3)
    path = tmp_path_factory.mktemp("checkpoints") / "era5-members.safetensors"
    wx_models.save_checkpoint(path, model, metadata={"training": {"steps": 15}})
    return path
