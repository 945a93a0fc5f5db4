"""Both families on a real (tiny) icosahedral graph built by wx-graphs."""

from __future__ import annotations

import pytest
import torch

from wx_graphs import build_graph
from wx_models import load_checkpoint, save_checkpoint
from wx_models.debug import TINY_GRAPH_RECIPE, tiny_inputs, tiny_weather_model

RECIPE = TINY_GRAPH_RECIPE


@pytest.fixture(scope="module")
def icosahedral():
    graph = build_graph(RECIPE)
    return graph, graph.to_hetero_data()


@pytest.mark.parametrize("family", ["gnn", "transformer"])
def test_forward_backward_and_round_trip(family, icosahedral, tmp_path):
    graph, hetero = icosahedral
    nodes = graph.nodes["data"]
    model = tiny_weather_model(
        family,
        graph=hetero,
        latitudes=nodes.latitudes,
        longitudes=nodes.longitudes,
        grid_shape=[7, 12],
    )
    x = tiny_inputs(model)
    y = model(x)
    assert y.shape == (2, 84, 3) and torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert torch.equal(model.latitudes, torch.as_tensor(nodes.latitudes))
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={"graph_recipe": graph.recipe})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert torch.equal(loaded.graph_tensors["nodes/data/area_weight"], hetero["data"].area_weight)
    assert metadata["graph"]["nodes"] == {"data": 84, "hidden": 42}
    assert metadata["graph_recipe"]["nodes"]["hidden"]["refinement"] == 1
