"""Tiny graphs and model configurations for fast tests, examples and profiling.

Real graphs come from wx-graphs (icosahedral multi-mesh, radius encoder, triangle decoder);
:func:`random_graph` makes a graph in the same HeteroData contract from random grid points and a
Fibonacci-sphere mesh (Gonzalez 2010) joined by k-nearest-neighbour edges, with the contract's
edge attributes: the great-circle length and the displacement in the receiver's local
east-north-up frame, both divided by the longest edge of the set.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch_geometric.data import HeteroData

from wx_models.graph import GRID, MESH


def sphere_points(count: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[count, 2]`` latitude, longitude (radians): random if ``generator``, else Fibonacci."""
    if generator is not None:
        z = torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1
        longitude = torch.rand(count, generator=generator, dtype=torch.float64) * 2 * math.pi
    else:
        index = torch.arange(count, dtype=torch.float64) + 0.5
        z = 1 - 2 * index / count
        longitude = torch.remainder(index * math.pi * (3 - math.sqrt(5)), 2 * math.pi)
    return torch.stack([torch.asin(z), longitude], dim=-1)  # [node, 2]


def unit_vectors(positions: torch.Tensor) -> torch.Tensor:
    """``[node, 3]`` unit vectors of ``[node, 2]`` latitude, longitude (radians)."""
    latitude, longitude = positions[:, 0], positions[:, 1]
    return torch.stack(
        [latitude.cos() * longitude.cos(), latitude.cos() * longitude.sin(), latitude.sin()], -1
    )


def nearest(queries: torch.Tensor, points: torch.Tensor, k: int, *, skip_self: bool = False):
    """Indices ``[query, k]`` of the ``k`` nearest ``points`` to each query (unit vectors)."""
    rows = []
    for start in range(0, queries.shape[0], 4096):
        distance = torch.cdist(queries[start : start + 4096], points)  # [query, point]
        found = distance.topk(k + int(skip_self), largest=False).indices
        rows.append(found[:, 1:] if skip_self else found)
    return torch.cat(rows)


def edge_attributes(sender_xyz: torch.Tensor, receiver_xyz: torch.Tensor) -> torch.Tensor:
    """``[edge, 4]`` length and east/north/up displacement at the receiver, over the longest."""
    up = receiver_xyz
    east = torch.stack([-up[:, 1], up[:, 0], torch.zeros_like(up[:, 0])], -1)
    east = east / east.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    north = torch.cross(up, east, dim=-1)
    displacement = sender_xyz - receiver_xyz  # [edge, 3]
    local = torch.stack(
        [(displacement * axis).sum(-1) for axis in (east, north, up)], dim=-1
    )  # [edge, 3]
    length = 2 * torch.asin((displacement.norm(dim=-1) / 2).clamp(max=1.0))  # [edge]
    longest = length.max().clamp_min(1e-12)
    chord = displacement.norm(dim=-1).max().clamp_min(1e-12)
    return torch.cat([(length / longest)[:, None], local / chord], dim=-1).float()


def random_graph(
    *,
    grid_nodes: int = 48,
    mesh_nodes: int = 12,
    encoder_neighbours: int = 3,
    processor_neighbours: int = 4,
    decoder_neighbours: int = 3,
    seed: int = 0,
) -> HeteroData:
    """A HeteroData graph in the wx contract with random grid points and a Fibonacci mesh."""
    generator = torch.Generator().manual_seed(seed)
    grid = sphere_points(grid_nodes, generator=generator)
    mesh = sphere_points(mesh_nodes)
    grid_xyz, mesh_xyz = unit_vectors(grid), unit_vectors(mesh)
    graph = HeteroData()
    graph[GRID].x = grid.float()
    graph[MESH].x = mesh.float()
    # encoder: every grid point sends to its nearest mesh nodes
    to_mesh = nearest(grid_xyz, mesh_xyz, encoder_neighbours)  # [grid, k]
    encoder = torch.stack(
        [torch.arange(grid_nodes).repeat_interleave(encoder_neighbours), to_mesh.reshape(-1)]
    )
    # processor: every mesh node receives from its nearest other mesh nodes
    among = nearest(mesh_xyz, mesh_xyz, processor_neighbours, skip_self=True)
    processor = torch.stack(
        [among.reshape(-1), torch.arange(mesh_nodes).repeat_interleave(processor_neighbours)]
    )
    # decoder: every grid point receives from its nearest mesh nodes
    from_mesh = nearest(grid_xyz, mesh_xyz, decoder_neighbours)
    decoder = torch.stack(
        [from_mesh.reshape(-1), torch.arange(grid_nodes).repeat_interleave(decoder_neighbours)]
    )
    for (sender, receiver), index, sender_xyz, receiver_xyz in (
        ((GRID, MESH), encoder, grid_xyz, mesh_xyz),
        ((MESH, MESH), processor, mesh_xyz, mesh_xyz),
        ((MESH, GRID), decoder, mesh_xyz, grid_xyz),
    ):
        store = graph[sender, "to", receiver]
        store.edge_index = index.long()  # [2, edge]
        store.edge_attr = edge_attributes(sender_xyz[index[0]], receiver_xyz[index[1]])
    return graph


TINY_GRAPH_RECIPE = {  # a wx-graphs recipe: 30-degree grid with poles, refinement-1 multi-mesh
    "nodes": {
        "data": {"kind": "regular", "resolution": 30.0, "poles": True},
        "hidden": {"kind": "icosahedral", "refinement": 1},
    },
    "edges": [
        {"source": "data", "target": "hidden", "builder": "grid2mesh", "radius_fraction": 0.6},
        {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
        {"source": "hidden", "target": "data", "builder": "mesh2grid"},
    ],
}


def tiny_model_arguments(family: str = "gnn") -> dict[str, Any]:
    """Architecture arguments of the tiny debug configuration of ``family``."""
    return {
        "family": family,
        "latent_size": 16,
        "processor_layers": 2,
        "mlp_hidden_size": 24 if family == "gnn" else 32,
        "heads": 4,
    }


TINY_VARIABLES = {
    "t_850": "prognostic",
    "q_850": "prognostic",
    "insolation": "forcing",
    "lsm": "constant",
    "tp": "diagnostic",
}
TINY_STATISTICS = {
    "t_850": {
        "mean": 275.0,
        "stdev": 15.0,
        "minimum": 220.0,
        "maximum": 310.0,
        "tendency_mean": 0.01,
        "tendency_stdev": 1.5,
    },
    "q_850": {
        "mean": 0.006,
        "stdev": 0.004,
        "minimum": 0.0,
        "maximum": 0.02,
        "tendency_mean": 0.0,
        "tendency_stdev": 0.001,
    },
    "insolation": {"mean": 0.3, "stdev": 0.35, "minimum": 0.0, "maximum": 1.0},
    "lsm": {"mean": 0.3, "stdev": 0.45, "minimum": 0.0, "maximum": 1.0},
    "tp": {"mean": 0.0004, "stdev": 0.001, "minimum": 0.0, "maximum": 0.03},
}


def tiny_weather_model(
    family: str = "gnn", *, graph: HeteroData | None = None, seed: int = 0, **arguments: Any
):
    """A :class:`~wx_models.WeatherModel` of the tiny configuration on a tiny graph.

    Variables ``t_850``, ``q_850`` (prognostic), ``insolation`` (forcing), ``lsm``
    (constant) and ``tp`` (diagnostic, non-negative), two input steps; ``arguments`` override.
    """
    from wx_models.weather_model import WeatherModel

    torch.manual_seed(seed)
    settings: dict[str, Any] = {
        "variables": TINY_VARIABLES,
        "statistics": TINY_STATISTICS,
        "input_steps": 2,
        "time_step": "6h",
        "normaliser": {"lsm": "min-max", "insolation": "none"},
        "bounding": [{"type": "relu", "variables": ["q_850", "tp"]}],
        **tiny_model_arguments(family),
    }
    settings.update(arguments)
    return WeatherModel(graph=random_graph(seed=seed) if graph is None else graph, **settings)


def tiny_inputs(model, *, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """Random physical inputs ``[batch, input_steps, cell, input_variable]`` for ``model``,
    spread like its input statistics."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, model.input_steps, model.num_cells, len(model.input_variables))
    noise = torch.randn(shape, generator=generator)
    offset = model.input_normaliser.offset
    scale = model.input_normaliser.scale
    return noise * scale + offset  # [batch, input_steps, cell, input_variable]


def fit_one_batch(
    model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, steps: int
) -> float:
    """Final MSE after ``steps`` Adam steps (lr 0.01) on one batch: what a model can learn."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (model(inputs) - targets).square().mean()
        loss.backward()
        optimizer.step()
    return float(loss.detach())
