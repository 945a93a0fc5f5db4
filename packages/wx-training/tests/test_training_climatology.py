"""The harmonic climatology input is fitted to the training period of the dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wx_datasets.forcings import compute_forcings
from wx_models.climatology import ANGLE_FORCINGS, harmonic_basis
from wx_training.components import build_components
from wx_training.config import compose_config


@pytest.mark.parametrize("harmonics", [1, 2])
def test_climatology_is_the_least_squares_fit_to_the_training_dates(tiny_overrides, harmonics):
    overrides = tiny_overrides(
        "model.climatology=[air]", f"model.climatology_harmonics={harmonics}"
    )
    components = build_components(compose_config(overrides))
    model, view = components.model, components.view
    # the dates the fit used: the training windows' first dates
    starts = components.train_dataset.starts
    train = np.asarray(view.dates).astype("datetime64[s]")[starts]
    air = np.stack([view[int(i)][view.name_to_index["air"], 0] for i in starts])
    forcing = compute_forcings(ANGLE_FORCINGS, train, view.latitudes, view.longitudes)
    angles = torch.as_tensor(forcing, dtype=torch.float64).unbind(1)
    basis = harmonic_basis(*angles, annual_harmonics=harmonics)  # [time, cell, term]
    coefficients = model.climatology.coefficients.double()[:, 0]  # [cell, term]
    assert coefficients.shape[1] == 9 + 2 * harmonics
    fitted = torch.einsum("tck,ck->tc", basis, coefficients).numpy()  # [time, cell]
    residual = air - fitted
    # least squares with a constant term: the residual averages to zero in every cell, and the
    # fit beats each cell's mean (the diurnal cycle of 10 days of January is real)
    assert np.abs(residual.mean(axis=0)).max() < 0.05
    assert residual.std() < 0.9 * (air - air.mean(axis=0)).std()
    assert model.arguments["climatology"] == ["air"]
    assert model.arguments["climatology_harmonics"] == harmonics
