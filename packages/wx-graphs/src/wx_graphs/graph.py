"""The graph container shared by wx-graphs, wx-models, wx-training and wx-inference.

Plain frozen dataclasses of numpy arrays (as GraphCast's ``typed_graph``); conversion to
``torch_geometric.data.HeteroData`` happens at the boundary, in :meth:`Graph.to_hetero_data`.
Node set names: ``data`` (the grid) and ``hidden`` (the mesh); edge sets ``("data", "hidden")``
(encoder, grid-to-mesh), ``("hidden", "hidden")`` (processor, multi-mesh) and
``("hidden", "data")`` (decoder, mesh-to-grid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from wx_graphs.errors import MissingNodeSetError

if TYPE_CHECKING:  # torch is imported only when converting
    from torch_geometric.data import HeteroData

NAME_PATTERN = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_-]*[A-Za-z0-9-])?$")


def check_name(name: str, *, what: str) -> str:
    """A node set or attribute name usable in file keys (``nodes/<set>/<field>``)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or "__" in name:
        raise ValueError(
            f"{what} name {name!r}: expected letters, digits, '_' or '-', starting with a letter, "
            "not ending with '_' and without a double underscore"
        )
    return name


@dataclass(frozen=True)
class NodeSet:
    """Nodes on the sphere with per-node attributes (``area_weight``, ``interior_mask``...)."""

    latitudes: np.ndarray  # [node] float64 degrees
    longitudes: np.ndarray  # [node] float64 degrees
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [node, ...]

    def __post_init__(self) -> None:
        if self.latitudes.shape != self.longitudes.shape or self.latitudes.ndim != 1:
            raise ValueError(
                f"node set: latitudes {self.latitudes.shape} and longitudes "
                f"{self.longitudes.shape} must be 1-D of the same length"
            )
        for name, values in self.attributes.items():
            check_name(name, what="node attribute")
            if len(values) != len(self.latitudes):
                raise ValueError(
                    f"node attribute {name!r} has {len(values)} rows for "
                    f"{len(self.latitudes)} nodes"
                )

    @property
    def num_nodes(self) -> int:
        return len(self.latitudes)


@dataclass(frozen=True)
class EdgeSet:
    """Directed edges (row 0 source, row 1 target) with per-edge attributes."""

    edge_index: np.ndarray  # [2, edge] int64
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [edge, ...]

    def __post_init__(self) -> None:
        if self.edge_index.ndim != 2 or self.edge_index.shape[0] != 2:
            raise ValueError(f"edge_index has shape {self.edge_index.shape}: expected [2, edge]")
        for name, values in self.attributes.items():
            check_name(name, what="edge attribute")
            if len(values) != self.num_edges:
                raise ValueError(
                    f"edge attribute {name!r} has {len(values)} rows for {self.num_edges} edges"
                )

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def edge_attr(self) -> np.ndarray:
        """``[edge, 4]`` float32: ``edge_length`` then the three ``edge_dirs`` components."""
        return np.concatenate(
            [self.attributes["edge_length"], self.attributes["edge_dirs"]], axis=1
        ).astype(np.float32)


@dataclass(frozen=True)
class Graph:
    """Node sets, edge sets between them, the recipe that made them and its provenance."""

    nodes: dict[str, NodeSet]
    edges: dict[tuple[str, str], EdgeSet]
    recipe: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.nodes:
            check_name(name, what="node set")
        for (source, target), edges in self.edges.items():
            for end, row in ((source, 0), (target, 1)):
                if end not in self.nodes:
                    raise MissingNodeSetError(
                        f"edge set ({source!r}, {target!r}) refers to node set {end!r}, "
                        f"which the graph lacks (node sets: {sorted(self.nodes)})"
                    )
                index = edges.edge_index[row]
                if index.size and (index.min() < 0 or index.max() >= self.nodes[end].num_nodes):
                    raise ValueError(
                        f"edge set ({source!r}, {target!r}): row {row} indices must lie in "
                        f"0..{self.nodes[end].num_nodes - 1} (node set {end!r})"
                    )

    def to_hetero_data(self) -> HeteroData:
        """The graph as ``HeteroData``: ``x`` = (lat, lon) radians, attributes, ``edge_attr``."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for name, nodes in self.nodes.items():
            coordinates = np.stack([nodes.latitudes, nodes.longitudes], axis=1)  # [node, 2]
            data[name].x = torch.from_numpy(np.radians(coordinates).astype(np.float32))
            data[name].num_nodes = nodes.num_nodes
            for attribute, values in nodes.attributes.items():
                data[name][attribute] = torch.from_numpy(np.ascontiguousarray(values))
        for (source, target), edges in self.edges.items():
            store = data[source, "to", target]
            store.edge_index = torch.from_numpy(edges.edge_index.astype(np.int64))
            if {"edge_length", "edge_dirs"} <= set(edges.attributes):
                store.edge_attr = torch.from_numpy(edges.edge_attr())
            for attribute, values in edges.attributes.items():
                if attribute not in ("edge_length", "edge_dirs"):
                    store[attribute] = torch.from_numpy(np.ascontiguousarray(values))
        return data

    def summary(self) -> str:
        """A few lines: node and edge counts with attribute names."""
        lines = [f"graph {self.recipe.get('name', '(unnamed)')}"]
        for name, nodes in self.nodes.items():
            attributes = ", ".join(sorted(nodes.attributes)) or "no attributes"
            lines.append(f"  nodes {name}: {nodes.num_nodes:,} ({attributes})")
        for (source, target), edges in self.edges.items():
            attributes = ", ".join(sorted(edges.attributes)) or "no attributes"
            lines.append(f"  edges {source} -> {target}: {edges.num_edges:,} ({attributes})")
        return "\n".join(lines)
