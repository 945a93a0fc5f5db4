"""Each cell's own regression on its nearest cells' inputs (``cell_stencil``): the stencil is the
neighbourhood on the sphere, the map is the formula, it starts at zero, learns what a shared
network cannot, and survives checkpoints; bad sizes and sharding a wide stencil are refused."""

from __future__ import annotations

import pytest
import torch

from wx_models import EncoderProcessorDecoder, load_checkpoint, save_checkpoint
from wx_models.cell_stencil import CellStencil, CellStencilError, NormalEquations, nearest_cells
from wx_models.debug import (
    fit_one_batch,
    random_graph,
    tiny_inputs,
    tiny_model_arguments,
    tiny_weather_model,
)


def lat_lon_grid(nlat: int, nlon: int, step: float) -> torch.Tensor:
    """``[nlat * nlon, 2]`` radians of a regular grid centred on the equator, row-major."""
    lat = (torch.arange(nlat, dtype=torch.float64) - (nlat - 1) / 2) * step
    lon = torch.arange(nlon, dtype=torch.float64) * step
    return torch.deg2rad(torch.cartesian_prod(lat, lon))


def network(**overrides) -> EncoderProcessorDecoder:
    torch.manual_seed(0)
    arguments = {**tiny_model_arguments("gnn"), **overrides}
    return EncoderProcessorDecoder(graph=random_graph(), input_size=6, output_size=3, **arguments)


def test_the_stencil_of_an_equatorial_cell_is_its_block_of_neighbours():
    nlat, nlon = 5, 7
    index = nearest_cells(lat_lon_grid(nlat, nlon, 1.0), 9)
    centre = 2 * nlon + 3  # row 2 (the equator), column 3
    assert index[centre, 0] == centre  # the cell itself first
    # the 4 edge neighbours (1 degree) come before the 4 corners (about 1.414 degrees)
    edges = {centre - nlon, centre + nlon, centre - 1, centre + 1}
    corners = {centre - nlon - 1, centre - nlon + 1, centre + nlon - 1, centre + nlon + 1}
    assert set(index[centre, 1:5]) == edges
    assert set(index[centre, 5:9]) == corners
    assert (index[:, 0] == range(nlat * nlon)).all()


def test_the_map_is_each_cells_regression_on_its_stencil():
    positions = lat_lon_grid(3, 4, 2.0)
    stencil = CellStencil(
        positions=positions, size=3, input_size=4, output_size=2, stencil_channels=[0, 2]
    )
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        stencil.weight.normal_(generator=generator)
        stencil.bias.normal_(generator=generator)
    x = torch.randn(2, 12, 4, generator=generator)  # [batch, cell, input]
    cells = torch.arange(12)
    y = stencil(x, cells)
    neighbours = nearest_cells(positions, 3)
    for c in range(12):
        # features: channels 0 and 2 of the 3 stencil cells, then the cell's own 1 and 3
        stacked = [x[:, int(n), ch] for n in neighbours[c] for ch in (0, 2)]
        features = torch.stack([*stacked, x[:, c, 1], x[:, c, 3]], dim=-1)  # [batch, 8]
        expected = features @ stencil.weight[c] + stencil.bias[c]  # [batch, output]
        torch.testing.assert_close(y[:, c], expected)
    assert stencil.weight.shape == (12, 3 * 2 + 2, 2)


def test_a_network_with_a_stencil_starts_as_the_plain_one_and_trains_it():
    plain, model = network(), network(cell_stencil=5)
    x = torch.randn(2, model.graph.num_grid, 6)
    torch.testing.assert_close(model(x), plain(x))  # zero at the start: the same network
    counted = sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in plain.parameters()
    )
    assert counted == model.graph.num_grid * (5 * 6 * 3 + 3)  # weights and biases per cell
    model(x).square().mean().backward()
    assert model.cell_stencil.weight.grad.abs().sum() > 0


def test_the_stencil_learns_each_cells_own_upstream_neighbour():
    # each cell's target is the input of one of its 3 nearest neighbours, a different one per
    # cell and with its own sign: local advection that a shared network cannot tell apart
    model = network(cell_stencil=4)
    cells = model.graph.num_grid
    generator = torch.Generator().manual_seed(4)
    neighbours = model.cell_stencil.neighbours
    choice = torch.randint(1, 4, (cells,), generator=generator)
    upstream = neighbours[torch.arange(cells), choice]  # [cell]
    sign = torch.where(torch.rand(cells, generator=generator) < 0.5, -1.0, 1.0)
    inputs = torch.randn(16, cells, 6, generator=generator)  # [batch, cell, input]
    targets = (sign[:, None] * inputs[:, upstream, :1]).expand(-1, -1, 3)  # [batch, cell, out]
    assert fit_one_batch(model, inputs, targets, steps=150) < 0.2 * fit_one_batch(
        network(), inputs, targets, steps=150
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [(-1, "cell_stencil -1"), ("9", "cell_stencil '9'"), (True, "cell_stencil True"), (49, "49")],
)
def test_bad_stencil_sizes_name_the_key(size, message):
    with pytest.raises(CellStencilError, match=message):
        network(cell_stencil=size)


def test_bad_stencil_channels():
    with pytest.raises(CellStencilError, match=r"stencil_channels \[7\]"):
        network(cell_stencil=2, stencil_channels=[7])


def test_weather_model_stencil_reads_the_prognostic_variables_at_every_step(tmp_path):
    model = tiny_weather_model("gnn", cell_stencil=4).eval()
    inputs = len(model.input_variables)
    prognostic = len(model.prognostic_variables)
    expected = [s * inputs + i for s in range(model.input_steps) for i in range(prognostic)]
    assert model.network.cell_stencil.channels.tolist() == expected
    with torch.no_grad():
        model.network.cell_stencil.weight.normal_(std=0.1)
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["cell_stencil"] == 4
    x = tiny_inputs(model, batch=2)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
        assert not torch.equal(loaded(x), tiny_weather_model("gnn").eval()(x))


def test_a_one_cell_stencil_is_the_cells_own_inputs():
    index = nearest_cells(lat_lon_grid(2, 3, 1.0), 1)
    assert index.ravel().tolist() == list(range(6))


def test_normal_equations_recover_a_regression_batch_by_batch():
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(60, 4, 3, generator=generator)  # [sample, cell, feature]
    features[..., 2] = 1.5  # a constant feature: centred away, its weight is zero
    weight = torch.randn(4, 3, 2, generator=generator)  # [cell, feature, output]
    weight[:, 2] = 0.0
    bias = torch.randn(4, 2, generator=generator)
    targets = torch.einsum("scf,cfo->sco", features, weight) + bias
    equations = NormalEquations()
    for part in (slice(0, 25), slice(25, 60)):
        equations.add(features[part], targets[part])
    fitted_weight, fitted_bias = equations.solve(ridge=1e-12)
    assert equations.count == 60
    torch.testing.assert_close(fitted_weight.float(), weight, atol=1e-5, rtol=0)
    torch.testing.assert_close(fitted_bias.float(), bias, atol=1e-5, rtol=0)
    # a heavy penalty shrinks the weights to nothing and the intercept to the targets' mean
    shrunk_weight, shrunk_bias = equations.solve(ridge=1e9)
    assert shrunk_weight.abs().max() < 1e-6
    torch.testing.assert_close(shrunk_bias.float(), targets.mean(0), atol=1e-5, rtol=0)
    with pytest.raises(CellStencilError, match="at least 2 samples"):
        NormalEquations().solve()


def test_a_fitted_model_starts_as_each_cells_regression():
    graph = random_graph()
    truth = tiny_weather_model("gnn", graph=graph, cell_stencil=3, bounding=[]).eval()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():  # a model whose output is exactly a regression per cell
        truth.network.cell_stencil.weight.normal_(std=0.3, generator=generator)
        truth.network.cell_stencil.bias.normal_(generator=generator)
        truth.network.output_head.output.weight.zero_()
        truth.network.output_head.output.bias.zero_()
    with torch.no_grad():
        samples = [(x, truth(x)) for x in (tiny_inputs(truth, batch=32, seed=s) for s in range(3))]
    model = tiny_weather_model(
        "gnn", graph=graph, seed=1, cell_stencil=3, cell_readout=True, bounding=[]
    )
    assert model.fit_cell_stencil(samples, ridge=1e-12) == 96
    stencil = model.network.cell_stencil
    torch.testing.assert_close(stencil.weight, truth.network.cell_stencil.weight, atol=1e-4, rtol=0)
    torch.testing.assert_close(stencil.bias, truth.network.cell_stencil.bias, atol=1e-4, rtol=0)
    # the shared output layer and the readout are zero: the model is the regression
    assert not model.network.output_head.output.weight.any()
    assert not model.network.cell_readout.any()
    x = tiny_inputs(model, batch=2, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(model(x), truth(x), atol=1e-3, rtol=1e-4)
    with pytest.raises(CellStencilError, match="has no cell_stencil"):
        tiny_weather_model("gnn").fit_cell_stencil(samples)


def direct_ridge(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """In-sample predictions ``[sample, cell, output]`` of each cell's ridge regression, solved
    directly: centred columns, penalty ``ridge`` times each feature's variance."""
    features, targets = features.double(), targets.double()
    centred = features - features.mean(0)  # [sample, cell, feature]
    covariance = torch.einsum("scf,scg->cfg", centred, centred) / len(features)
    cross = torch.einsum("scf,sco->cfo", centred, targets - targets.mean(0)) / len(features)
    variance = covariance.diagonal(dim1=1, dim2=2)
    penalty = torch.where(variance > 1e-12, ridge * variance, torch.ones_like(variance))
    weight = torch.linalg.solve(covariance + torch.diag_embed(penalty), cross)
    return torch.einsum("scf,cfo->sco", centred, weight) + targets.mean(0)


def decaying_samples(model, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next states whose prognostic anomalies decay by a fifth a step, plus noise."""
    x = tiny_inputs(model, batch=64, seed=seed)
    last = x[:, -1, :, :2]  # [sample, cell, prognostic]
    mean = model.input_normaliser.offset[:2]
    noise = 0.3 * torch.randn(last.shape, generator=torch.Generator().manual_seed(seed + 1))
    state = mean + 0.8 * (last - mean) + noise * model.input_normaliser.scale[:2]
    rain = torch.rand(*last.shape[:2], 1, generator=torch.Generator().manual_seed(seed + 2))
    return x, torch.cat([state, rain], dim=-1)  # [sample, cell, output_variable]


@pytest.mark.parametrize("prior", ["mean", "persistence"])
def test_the_fit_is_the_direct_ridge_solve_of_the_state_or_of_the_tendency(prior):
    model = tiny_weather_model("gnn", cell_stencil=3, bounding=[]).eval()
    x, y = decaying_samples(model, seed=3)
    model.fit_cell_stencil([(x[:40], y[:40]), (x[40:], y[40:])], ridge=1.0, prior=prior)
    with torch.no_grad():
        features = model.network.cell_stencil.features(model.network_inputs(x))
        forecast = model(x)
    # the residual outputs (t_850, q_850) shrink towards the prior, tp (a full state) as is
    last = torch.cat([x[:, -1, :, :2], torch.zeros_like(y[..., 2:])], dim=-1)
    state = direct_ridge(features, y, 1.0)
    tendency = last + direct_ridge(features, y - last, 1.0)
    expected, other = (state, tendency) if prior == "mean" else (tendency, state)
    scale = model.output_normaliser.scale  # [output_variable]
    torch.testing.assert_close((forecast / scale).double(), expected / scale, atol=2e-4, rtol=0)
    assert ((expected - other)[..., :2] / scale[:2]).abs().max() > 0.02  # the priors differ


def test_a_heavy_ridge_leaves_each_cells_mean_state_or_persistence():
    model = tiny_weather_model("gnn", cell_stencil=3, bounding=[]).eval()
    x, y = decaying_samples(model, seed=4)
    last = x[:, -1, :, :2]  # [sample, cell, prognostic]
    scale = model.output_normaliser.scale[:2]
    with torch.no_grad():
        model.fit_cell_stencil([(x, y)], ridge=1e9)
        torch.testing.assert_close(
            model(x)[..., :2] / scale,
            (y[..., :2] / scale).mean(0).expand_as(last),
            atol=1e-3,
            rtol=0,
        )
        model.fit_cell_stencil([(x, y)], ridge=1e9, prior="persistence")
        tendency = (y[..., :2] - last).mean(0)  # [cell, prognostic]
        torch.testing.assert_close(
            model(x)[..., :2] / scale, (last + tendency) / scale, atol=1e-3, rtol=0
        )
    with pytest.raises(CellStencilError, match="prior 'climatology': expected one of mean"):
        model.fit_cell_stencil([(x, y)], prior="climatology")


def test_stencil_only_columns_reach_the_stencil_alone():
    model = network(cell_stencil=4, stencil_channels=[0, 2], stencil_extra=2).eval()
    assert model.cell_stencil.num_features == 4 * 2 + 4 + 2
    x = torch.randn(2, 48, 8)  # 6 network columns, then the 2 stencil-only ones
    moved = x.clone()
    moved[..., 6:] += 1.0
    with torch.no_grad():
        assert torch.equal(model(x), model(moved))  # a zero stencil: the network alone
        torch.nn.init.normal_(model.cell_stencil.weight)
        assert not torch.equal(model(x), model(moved))
    with pytest.raises(ValueError, match="expected 6 network and 2 stencil-only columns, got 6"):
        model(x[..., :6])
    with pytest.raises(ValueError, match="stencil_extra 2: only a cell_stencil reads them"):
        network(stencil_extra=2)
