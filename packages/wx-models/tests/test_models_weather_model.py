"""WeatherModel: normalisation, residual and full-state outputs, bounds, errors and training."""

from __future__ import annotations

import pytest
import torch

from wx_models import VariableError, WeatherModel, statistics_from_arrays
from wx_models.debug import (
    TINY_STATISTICS,
    TINY_VARIABLES,
    random_graph,
    tiny_inputs,
    tiny_weather_model,
)


def silence_network(model: WeatherModel) -> None:
    """Make the network's raw output exactly zero, to read the output transform alone."""
    head = model.network.output_head.output
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)


def test_variable_order_and_roles():
    model = tiny_weather_model()
    assert model.input_variables == ["t_850", "q_850", "insolation", "lsm"]
    assert model.output_variables == ["t_850", "q_850", "tp"]
    assert model.prognostic_variables == ["t_850", "q_850"]
    assert model.forcing_variables == ["insolation"]
    assert model.constant_variables == ["lsm"]
    assert model.diagnostic_variables == ["tp"]


def test_normalisation_round_trip_and_values():
    model = tiny_weather_model()
    x = tiny_inputs(model)
    normalised = model.normalise_inputs(x)
    torch.testing.assert_close(model.input_normaliser.denormalise(normalised), x)
    # t_850 mean-std, insolation none, lsm min-max (0..1)
    torch.testing.assert_close(normalised[..., 0], (x[..., 0] - 275.0) / 15.0)
    torch.testing.assert_close(normalised[..., 2], x[..., 2])
    torch.testing.assert_close(normalised[..., 3], x[..., 3])
    y = model.denormalise_outputs(torch.randn(2, model.num_cells, 3))  # physical spread
    torch.testing.assert_close(model.denormalise_outputs(model.normalise_outputs(y)), y)


def test_residual_and_full_state_outputs():
    model = tiny_weather_model(bounding=[])
    silence_network(model)
    x = tiny_inputs(model)
    with torch.no_grad():
        y = model(x)
    # raw 0: residual -> last input + tendency mean, full state -> mean
    torch.testing.assert_close(y[..., 0], x[:, -1, :, 0] + 0.01)
    torch.testing.assert_close(y[..., 1], x[:, -1, :, 1] + 0.0)
    torch.testing.assert_close(y[..., 2], torch.full_like(y[..., 2], 0.0004))
    model = tiny_weather_model(bounding=[], residual=["q_850"])
    silence_network(model)
    with torch.no_grad():
        y = model(x)
    torch.testing.assert_close(y[..., 0], torch.full_like(y[..., 0], 275.0))  # full state


def test_raw_outputs_are_scaled_by_tendency_and_state_statistics():
    model = tiny_weather_model(bounding=[])
    silence_network(model)
    torch.nn.init.constant_(model.network.output_head.output.bias, 1.0)  # raw = 1 everywhere
    x = tiny_inputs(model)
    with torch.no_grad():
        y = model(x)
    torch.testing.assert_close(y[..., 0], x[:, -1, :, 0] + 0.01 + 1.5)
    torch.testing.assert_close(y[..., 2], torch.full_like(y[..., 2], 0.0014))


@pytest.mark.parametrize("family", ["gnn", "transformer"])
def test_bounds_are_respected(family):
    bounding = [
        {"type": "relu", "variables": ["q_850"]},
        {"type": "clamp", "variables": ["t_850"], "minimum": 250.0, "maximum": 260.0},
        {"type": "fraction", "variables": ["tp"], "of": "q_850"},
    ]
    model = tiny_weather_model(family, bounding=bounding)
    with torch.no_grad():  # large random weights push outputs past every bound
        for parameter in model.network.output_head.parameters():
            parameter.normal_(0, 30)
        y = model(tiny_inputs(model, batch=4))
    assert y[..., 0].min() >= 250.0 and y[..., 0].max() <= 260.0
    assert (y[..., 0] == 250.0).any() and (y[..., 0] == 260.0).any()
    assert y[..., 1].min() >= 0 and (y[..., 1] == 0).any()
    assert (y[..., 2] >= 0).all() and (y[..., 2] <= y[..., 1]).all()
    assert (y[..., 2] < y[..., 1]).any()


def test_input_shape_errors():
    model = tiny_weather_model()
    with pytest.raises(ValueError, match=r"expected \[batch, input_steps, cell, input_variable\]"):
        model(torch.zeros(1, 1, model.num_cells, 4))
    with pytest.raises(ValueError, match=r"= \[batch, 2, 48, 4\], got \[1, 2, 48, 3\]"):
        model(torch.zeros(1, 2, model.num_cells, 3))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"variables": {"t": "prognostics"}}, VariableError, "role 'prognostics' is not one of"),
        ({"variables": {"sst": "forcing"}}, VariableError, "at least one prognostic"),
        ({"residual": ["tp"]}, VariableError, "'tp' is not a prognostic variable"),
        ({"normaliser": "z-score"}, VariableError, "'z-score' is not one of"),
        ({"normaliser": {"sst": "none"}}, VariableError, r"\['sst'\] are not model variables"),
        (
            {"statistics": {k: v for k, v in TINY_STATISTICS.items() if k != "lsm"}},
            VariableError,
            "no entry for variable 'lsm'",
        ),
        (
            {"statistics": {**TINY_STATISTICS, "t_850": {"mean": 1.0, "stdev": 0.0}}},
            VariableError,
            "stdev is 0.0",
        ),
        (
            {"statistics": {**TINY_STATISTICS, "t_850": {"mean": 1.0, "stdev": 2.0}}},
            VariableError,
            r"statistics\['t_850'\]: the statistic 'tendency_mean' is missing",
        ),
        (
            {"bounding": [{"type": "relu", "variables": ["sst"]}]},
            VariableError,
            r"bounding\[0\]: 'sst' is not an output variable",
        ),
        (
            {"bounding": [{"type": "fraction", "variables": ["q_850"], "of": "tp"}]},
            VariableError,
            "fraction variable 'q_850' must be a full-state output",
        ),
        (
            {"bounding": [{"type": "softplus", "variables": ["tp"]}]},
            VariableError,
            "type 'softplus' is not one of",
        ),
        ({"input_steps": 0}, ValueError, "input_steps 0"),
        ({"time_step": "6 parsecs"}, ValueError, "6 parsecs"),
        ({"grid_shape": [5, 10]}, ValueError, r"grid_shape \[5, 10\] holds 50 cells"),
        (
            {"latitudes": torch.zeros(48, dtype=torch.float64)},
            ValueError,
            "latitudes differ from the graph's 'data' node positions",
        ),
    ],
)
def test_construction_errors_name_the_culprit(change, error, message):
    with pytest.raises(error, match=message):
        tiny_weather_model(**change)


def test_statistics_from_dataset_arrays():
    names = ["t_850", "q_850"]
    statistics = statistics_from_arrays(
        names,
        {"mean": [275.0, 0.006], "stdev": [15.0, 0.004]},
        {"mean": [0.01, 0.0], "stdev": [1.5, 0.001]},
    )
    assert statistics["q_850"] == {
        "mean": 0.006,
        "stdev": 0.004,
        "tendency_mean": 0.0,
        "tendency_stdev": 0.001,
    }
    with pytest.raises(VariableError, match=r"statistics mean: expected shape \(2,\)"):
        statistics_from_arrays(names, {"mean": [1.0, 2.0, 3.0]})


def test_variables_as_pairs_keep_their_order():
    pairs = [
        ["q_850", "prognostic"],
        ["t_850", "prognostic"],
        ["tp", "diagnostic"],
        ["insolation", "forcing"],
        ["lsm", "constant"],
    ]
    model = tiny_weather_model(variables=pairs)
    assert model.output_variables == ["q_850", "t_850", "tp"]
    assert dict(pairs) == dict(model.arguments["variables"])
    assert set(TINY_VARIABLES) == set(model.layout.roles())


@pytest.mark.parametrize("family", ["gnn", "transformer"])
def test_both_families_learn_a_tiny_problem(family):
    """A few dozen Adam steps fit a fixed smooth target far better than at the start."""
    torch.manual_seed(0)
    graph = random_graph(grid_nodes=32, mesh_nodes=10, seed=2)
    model = tiny_weather_model(family, graph=graph, bounding=[])
    x = tiny_inputs(model, batch=4, seed=5)
    # target: the last input shifted by a field that depends on position
    latitude = graph["data"].x[:, 0]
    target = x[:, -1, :, :2].clone()
    target[..., 0] += 3.0 * torch.sin(2 * latitude)
    target = torch.cat([target, (0.001 * latitude.cos()).expand(4, -1)[..., None]], dim=-1)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        loss = (model.normalise_outputs(model(x)) - model.normalise_outputs(target)).square().mean()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
