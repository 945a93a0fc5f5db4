"""Samples equal the source data; forcings, periods, loaders and boundary forcing behave."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from wx_datasets import open_dataset
from wx_datasets.forcings import compute_forcings
from wx_training.components import make_windows
from wx_training.config import compose_config
from wx_training.data import WindowBatchSampler, WindowDataset, make_loader, resolve_layout
from wx_training.rollout import Rollout
from wx_training.schema import PeriodConfig
from wx_training.seeding import loader_generator


@pytest.fixture
def ncep(ncep_store):
    view = open_dataset(ncep_store)
    config = compose_config(["data=ncep_air", f"data.dataset={ncep_store}", "data.prognostic=null"])
    return view, config


def test_window_samples_equal_the_netcdf_source(ncep, shared_data):
    view, config = ncep
    layout = resolve_layout(view, config.data, dataset="air")
    assert layout.prognostic == ("air",)  # from the dataset's metadata (kind: prognostic)
    dataset = WindowDataset(view=view, layout=layout, member=0, window=3, starts=np.array([0, 5]))
    sample = dataset[1]["fields"]  # [time, cell, variable]
    assert sample.shape == (3, 25 * 53, 1 + 5) and sample.dtype == torch.float32
    source = xr.open_dataset(shared_data("air_temperature.nc"))["air"].isel(time=slice(5, 8))
    np.testing.assert_allclose(sample[:, :, 0].numpy(), source.values.reshape(3, -1), atol=1e-4)
    forcings = compute_forcings(
        layout.computed_forcings, view.dates[5:8], view.latitudes, view.longitudes
    )
    np.testing.assert_array_equal(sample[:, :, 1:].numpy(), forcings.transpose(0, 2, 1))
    # Insolation in the window follows the Sun: zero somewhere at night, positive by day.
    insolation = sample[:, :, layout.sample_variables.index("insolation")]
    assert (insolation == 0).any() and (insolation > 0.3).any()


def test_windows_stay_inside_their_period(ncep):
    view, _config = ncep
    period = PeriodConfig(start="2013-01-03T00:00", end="2013-01-05T18:00")
    starts = make_windows(view, period, key="data.train", length=4)
    assert view.dates[starts[0]] == np.datetime64("2013-01-03T00:00")
    assert view.dates[starts[-1] + 3] == np.datetime64("2013-01-05T18:00")
    assert len(starts) == 12 - 4 + 1
    with pytest.raises(ValueError, match="config key data.validation: period 2014-01-01"):
        empty = PeriodConfig(start="2014-01-01", end="2014-02-01")
        make_windows(view, empty, key="data.validation", length=4)


def test_loader_workers_give_the_same_batches(ncep):
    view, config = ncep
    layout = resolve_layout(view, config.data, dataset="air")
    dataset = WindowDataset(view=view, layout=layout, member=0, window=2, starts=np.arange(12))
    batches = {}
    for workers in (0, 2):
        sampler = WindowBatchSampler(len(dataset), batch_size=3, seed=4)
        sampler.set_epoch(1)
        loader = make_loader(
            dataset, sampler, num_workers=workers, prefetch_factor=2, generator=loader_generator(0)
        )
        batches[workers] = [batch["fields"] for batch in loader]
    assert len(batches[0]) == len(batches[2]) == 4
    for first, second in zip(batches[0], batches[2], strict=True):
        assert torch.equal(first, second)
    expected = torch.stack([dataset[index]["fields"] for index in next(iter(sampler))])
    assert torch.equal(batches[2][0], expected)  # the sampler's order, whatever the workers


class RecordingModel(torch.nn.Module):
    """Predicts zeros and records the input histories it was given."""

    input_steps = 1

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        self.seen.append(history.clone())
        return torch.zeros(history.shape[0], history.shape[2], 1)


def test_boundary_nodes_take_the_known_state_at_every_step():
    interior = np.array([False, True, True, False])
    rollout = Rollout(
        sample_variables=["t", "insolation"],
        input_variables=["t", "insolation"],
        output_variables=["t"],
        num_prognostic=1,
        input_steps=1,
        interior_mask=interior,
    )
    fields = (
        torch.arange(3 * 4 * 2, dtype=torch.float32).reshape(1, 3, 4, 2) + 1
    )  # [batch, time, cell, variable]
    model = RecordingModel()
    steps = list(rollout.run(model, fields, 2))
    for _step, prediction, target in steps:
        assert torch.equal(prediction[0, [0, 3]], target[0, [0, 3]])  # boundary: the truth
        assert torch.all(prediction[0, [1, 2]] == 0)  # interior: the model
    second_input = model.seen[1][0, -1]  # [cell, input_variable]
    assert torch.equal(
        second_input[:, 0], torch.tensor([fields[0, 1, 0, 0], 0.0, 0.0, fields[0, 1, 3, 0]])
    )
    assert torch.equal(second_input[:, 1], fields[0, 1, :, 1])  # forcing of the next date
