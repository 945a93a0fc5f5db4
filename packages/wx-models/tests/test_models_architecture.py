"""The encoder-processor-decoder of both families on tiny graphs: shapes, gradients, symmetry,
chunking, checkpointing, batching, bf16 and torch.compile."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch_geometric.data import HeteroData

from wx_models import EncoderProcessorDecoder, GraphError, WeatherModel
from wx_models.debug import (
    fit_one_batch,
    random_graph,
    tiny_inputs,
    tiny_model_arguments,
    tiny_weather_model,
)
from wx_models.graph import receiver_chunks

FAMILIES = ["gnn", "transformer"]


def network(family: str, graph: HeteroData | None = None, **overrides) -> EncoderProcessorDecoder:
    torch.manual_seed(0)
    arguments = {**tiny_model_arguments(family), "family": family, **overrides}
    return EncoderProcessorDecoder(
        graph=random_graph() if graph is None else graph, input_size=6, output_size=3, **arguments
    )


def permuted(graph: HeteroData, order: torch.Tensor) -> HeteroData:
    """The same graph with grid node ``i`` renumbered: new node ``j`` is old node ``order[j]``."""
    new_index = torch.empty_like(order)
    new_index[order] = torch.arange(order.numel())
    result = HeteroData()
    result["data"].x = graph["data"].x[order]
    result["hidden"].x = graph["hidden"].x
    for key in graph.edge_types:
        index = graph[key].edge_index.clone()
        if key[0] == "data":
            index[0] = new_index[index[0]]
        if key[2] == "data":
            index[1] = new_index[index[1]]
        result[key].edge_index = index
        result[key].edge_attr = graph[key].edge_attr
    return result


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_and_every_parameter_gets_a_gradient(family):
    model = tiny_weather_model(family)
    x = tiny_inputs(model, batch=3)
    y = model(x)
    assert y.shape == (3, model.num_cells, len(model.output_variables))
    y.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []
    assert sum(p.numel() for p in model.parameters()) > 1000


@pytest.mark.parametrize("family", FAMILIES)
def test_output_permutes_with_the_grid_nodes(family):
    graph = random_graph(seed=3)
    order = torch.randperm(graph["data"].x.shape[0], generator=torch.Generator().manual_seed(1))
    model = tiny_weather_model(family, graph=graph).eval()
    twin = tiny_weather_model(family, graph=permuted(graph, order)).eval()
    twin.load_state_dict(model.state_dict())
    x = tiny_inputs(model)
    with torch.no_grad():
        expected = model(x)[:, order]
        got = twin(x[:, :, order])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, model(x), atol=1e-3)  # the permutation did change the order


@pytest.mark.parametrize("family", FAMILIES)
def test_edge_chunks_and_activation_checkpointing_change_nothing(family):
    x = torch.randn(2, 48, 6)
    results = []
    for overrides in ({}, {"edge_chunks": 3}, {"activation_checkpointing": True}):
        net = network(family, **overrides)
        y = net(x)
        y.square().sum().backward()
        results.append((y.detach(), {n: p.grad for n, p in net.named_parameters()}))
    for y, gradients in results[1:]:
        torch.testing.assert_close(y, results[0][0], rtol=1e-5, atol=1e-6)
        for name, gradient in gradients.items():
            torch.testing.assert_close(gradient, results[0][1][name], rtol=1e-4, atol=1e-6)


def test_receiver_chunks_never_split_a_receiver():
    receivers = torch.tensor([0, 0, 0, 1, 3, 3, 3, 3, 4, 6])
    chunks = receiver_chunks(receivers, 8, 3)
    assert chunks[0].edge_start == 0 and chunks[-1].edge_stop == receivers.numel()
    assert chunks[0].receiver_start == 0 and chunks[-1].receiver_stop == 8
    for before, after in itertools.pairwise(chunks):
        assert before.edge_stop == after.edge_start
        assert before.receiver_stop == after.receiver_start
        assert receivers[before.edge_stop - 1] < receivers[after.edge_start]


@pytest.mark.parametrize("family", FAMILIES)
def test_samples_of_a_batch_are_independent(family):
    net = network(family).eval()
    x = torch.randn(3, 48, 6)
    with torch.no_grad():
        together = net(x)
        alone = torch.cat([net(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_autocast(family):
    net = network(family)
    x = torch.randn(2, 48, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(x)
    assert y.dtype == torch.bfloat16
    y.float().square().mean().backward()
    assert all(p.grad.dtype == torch.float32 for p in net.parameters())
    torch.testing.assert_close(y.float(), net(x).detach(), rtol=0.1, atol=0.1)


def test_compiles_with_torch_compile():
    # inductor needs minutes to build C++ kernels on a 2-core CI machine: aot_eager captures
    # the same full graph (no graph breaks) forward and backward in seconds
    model = tiny_weather_model("transformer", processor_layers=1)
    x = tiny_inputs(model)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    y = compiled(x)
    y.square().mean().backward()
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-5)


def test_graph_errors_name_the_missing_part():
    graph = random_graph()
    del graph["hidden", "to", "data"]
    with pytest.raises(GraphError, match=r"\('hidden', 'to', 'data'\) is missing"):
        network("gnn", graph)
    graph = random_graph()
    graph["data", "to", "hidden"].edge_index[0, 0] = 10_000
    with pytest.raises(GraphError, match="outside node set 'data' of 48 nodes"):
        network("gnn", graph)
    graph = random_graph()
    graph["data"].x = graph["data"].x[:, :1]
    with pytest.raises(GraphError, match=r"graph\['data'\].x: expected \[node, 2\]"):
        network("gnn", graph)


def test_bad_architecture_arguments():
    with pytest.raises(ValueError, match="family 'mlp'"):
        network("mlp")
    with pytest.raises(ValueError, match="latent_size 16 must be a multiple of heads 3"):
        network("transformer", heads=3)
    with pytest.raises(ValueError, match="edge_chunks 0"):
        network("gnn", edge_chunks=0)


def test_weather_model_is_an_nn_module_of_the_network():
    model = tiny_weather_model("gnn")
    assert isinstance(model, WeatherModel)
    assert isinstance(model.network, EncoderProcessorDecoder)


def fit_per_cell_targets(trainable: dict[str, int], steps: int = 150) -> float:
    """Final MSE of fitting targets that differ per cell but not with the inputs."""
    model = network("gnn", trainable_features=trainable)
    generator = torch.Generator().manual_seed(7)
    cells = model.graph.num_grid
    # a value per cell, uncorrelated with the cells' positions: a shuffled smooth field
    targets = torch.linspace(-1.0, 1.0, cells)[torch.randperm(cells, generator=generator)]
    targets = targets.view(1, cells, 1).expand(2, cells, 3)  # [batch, cell, output]
    return fit_one_batch(model, torch.zeros(2, cells, 6), targets, steps=steps)


def test_trainable_features_learn_what_the_position_does_not_say():
    without = fit_per_cell_targets({})
    with_features = fit_per_cell_targets({"data": 4})
    assert with_features < 0.2 * without


@pytest.mark.parametrize("family", FAMILIES)
def test_trainable_features_are_parameters_that_start_at_zero(family):
    plain = network(family)
    model = network(family, trainable_features={"data": 3, "hidden": 2})
    assert model.trainable["data"].shape == (model.graph.num_grid, 3)
    assert model.trainable["hidden"].shape == (model.graph.num_mesh, 2)
    assert not any(p.abs().sum() for p in model.trainable.values())
    x = torch.randn(2, model.graph.num_grid, 6)
    model(x).square().mean().backward()
    assert all(p.grad.abs().sum() > 0 for p in model.trainable.values())
    counted = sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in plain.parameters()
    )
    latent = tiny_model_arguments(family)["latent_size"]
    # the tables, plus the embeddings' first layers reading 3 (grid) and 2 (mesh) more inputs
    expected = 3 * model.graph.num_grid + 2 * model.graph.num_mesh + (3 + 2) * latent
    if family == "transformer":  # the encoder's keys and values also read the grid features
        expected += 2 * 3 * latent
    assert counted == expected


def fit_per_cell_slopes(cell_readout: bool, steps: int = 200) -> float:
    """Final MSE of fitting outputs whose slope on the input differs per cell."""
    model = network("gnn", cell_readout=cell_readout)
    generator = torch.Generator().manual_seed(3)
    cells = model.graph.num_grid
    slopes = torch.linspace(-1.0, 1.0, cells)[torch.randperm(cells, generator=generator)]
    inputs = torch.randn(8, cells, 6, generator=generator)  # [batch, cell, input]
    targets = (slopes[:, None] * inputs[..., :1]).expand(-1, -1, 3)  # [batch, cell, output]
    return fit_one_batch(model, inputs, targets, steps=steps)


def test_cell_readout_learns_a_slope_per_cell():
    # a shared network can only guess each cell's slope from its position; its own weights fit it
    assert fit_per_cell_slopes(True) < 0.2 * fit_per_cell_slopes(False)


@pytest.mark.parametrize("family", FAMILIES)
def test_cell_readout_starts_at_zero_and_adds_a_map_per_cell(family):
    plain = network(family)
    model = network(family, cell_readout=True)
    x = torch.randn(2, model.graph.num_grid, 6)
    torch.testing.assert_close(model(x), plain(x))  # same seed, zero readout: the same network
    latent = tiny_model_arguments(family)["latent_size"]
    assert model.cell_readout.shape == (model.graph.num_grid, latent, 3)
    counted = sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in plain.parameters()
    )
    assert counted == model.graph.num_grid * latent * 3
    model(x).square().mean().backward()
    assert model.cell_readout.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="cell_readout 'yes': expected true or false"):
        network(family, cell_readout="yes")


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"grid": 4}, "trainable_features: unknown node sets \\['grid'\\]"),
        ({"data": -1}, "trainable_features.data -1: expected an integer >= 0"),
        ({"hidden": 2.5}, "trainable_features.hidden 2.5: expected an integer >= 0"),
    ],
)
def test_bad_trainable_feature_sizes_name_the_key(sizes, message):
    with pytest.raises(ValueError, match=message):
        network("gnn", trainable_features=sizes)
