"""The graph as the network sees it: three edge sets sorted by receiver, split into chunks.

The graph arrives as ``torch_geometric.data.HeteroData`` in the wx graph-file contract: node
sets ``data`` (the grid) and ``hidden`` (the mesh) with ``x`` = ``[node, 2]`` (latitude,
longitude in radians); edge sets ``("data", "to", "hidden")`` (encoder, grid2mesh),
``("hidden", "to", "hidden")`` (processor, multi-mesh) and ``("hidden", "to", "data")``
(decoder, mesh2grid), each with ``edge_index`` ``[2, edge]`` (row 0 sender, row 1 receiver) and
``edge_attr`` ``[edge, attribute]`` (length then three direction components).

Edges are stably sorted by receiver, so every receiver's incoming edges are contiguous: sums
and softmaxes over a receiver's edges can then be computed chunk by chunk, with chunk borders
on receiver borders, without approximation (see :func:`receiver_chunks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.data import HeteroData

GRID = "data"
MESH = "hidden"
EDGE_SETS = {
    "encoder": (GRID, MESH),
    "processor": (MESH, MESH),
    "decoder": (MESH, GRID),
}
NODE_FEATURES = 4  # sin(lat), cos(lat), sin(lon), cos(lon)
# edges per block of the transformer's fused attention on CPU: a block's edge temporaries stay
# under glibc's largest mmap threshold (32 MiB; 16 MiB at latent 128), so the allocator reuses
# them instead of mapping and zero-filling fresh pages for every one (measured 25 % faster)
CPU_BLOCK_EDGES = 32768


class GraphError(ValueError):
    """A graph that lacks a node set, an edge set or a field, or has one of the wrong shape."""


@dataclass(frozen=True)
class EdgeChunk:
    """A contiguous run of receiver-sorted edges and the receivers they cover."""

    edge_start: int
    edge_stop: int
    receiver_start: int
    receiver_stop: int


def node_features(positions: torch.Tensor) -> torch.Tensor:
    """Static node features ``[node, 4]`` from positions ``[node, 2]`` (lat, lon radians)."""
    latitude, longitude = positions[:, 0], positions[:, 1]
    return torch.stack(
        [latitude.sin(), latitude.cos(), longitude.sin(), longitude.cos()], dim=-1
    ).float()  # [node, 4]


def check_graph(graph: HeteroData) -> None:
    """Raise :class:`GraphError` naming the key unless ``graph`` follows the graph contract."""
    if not isinstance(graph, HeteroData):
        raise GraphError(f"graph: expected torch_geometric HeteroData, got {type(graph).__name__}")
    sizes = {}
    for name in (GRID, MESH):
        if name not in graph.node_types or "x" not in graph[name]:
            raise GraphError(f"graph: node set {name!r} with positions 'x' [node, 2] is missing")
        x = graph[name].x
        if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] == 0:
            raise GraphError(
                f"graph[{name!r}].x: expected [node, 2] (lat, lon), got {tuple(x.shape)}"
            )
        sizes[name] = x.shape[0]
    attribute_sizes = set()
    for sender, receiver in EDGE_SETS.values():
        key = (sender, "to", receiver)
        if key not in graph.edge_types:
            raise GraphError(f"graph: edge set {key} is missing")
        store = graph[key]
        for field in ("edge_index", "edge_attr"):
            if field not in store:
                raise GraphError(f"graph[{key}]: field {field!r} is missing")
        index, attributes = store.edge_index, store.edge_attr
        if index.ndim != 2 or index.shape[0] != 2 or index.shape[1] == 0:
            raise GraphError(
                f"graph[{key}].edge_index: expected [2, edge], got {tuple(index.shape)}"
            )
        if attributes.ndim != 2 or attributes.shape[0] != index.shape[1]:
            raise GraphError(
                f"graph[{key}].edge_attr: expected [{index.shape[1]}, attribute], "
                f"got {tuple(attributes.shape)}"
            )
        for row, name in ((0, sender), (1, receiver)):
            low, high = int(index[row].min()), int(index[row].max())
            if low < 0 or high >= sizes[name]:
                raise GraphError(
                    f"graph[{key}].edge_index row {row}: indices {low}..{high} outside node set "
                    f"{name!r} of {sizes[name]} nodes"
                )
        attribute_sizes.add(attributes.shape[1])
    if len(attribute_sizes) != 1:
        raise GraphError(
            f"graph: edge sets have different edge_attr widths {sorted(attribute_sizes)}"
        )


def receiver_chunks(receivers: torch.Tensor, num_receivers: int, chunks: int) -> list[EdgeChunk]:
    """Split receiver-sorted edges into at most ``chunks`` runs that never split a receiver."""
    num_edges = receivers.numel()
    # boundaries[r] = index of the first edge whose receiver is >= r
    boundaries = torch.searchsorted(receivers, torch.arange(num_receivers + 1))  # [receiver + 1]
    targets = torch.tensor([num_edges * k // chunks for k in range(1, chunks)], dtype=torch.long)
    stops = [*torch.searchsorted(boundaries, targets).tolist(), num_receivers]
    result: list[EdgeChunk] = []
    receiver_start = 0
    for receiver_stop in stops:
        if receiver_stop > receiver_start:
            result.append(
                EdgeChunk(
                    int(boundaries[receiver_start]),
                    int(boundaries[receiver_stop]),
                    receiver_start,
                    receiver_stop,
                )
            )
            receiver_start = receiver_stop
    return result


class EdgeSet(nn.Module):
    """One edge set sorted by receiver: indices, attributes, receiver degrees and chunk plan."""

    def __init__(
        self,
        *,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        num_senders: int,
        num_receivers: int,
        chunks: int,
    ) -> None:
        super().__init__()
        edge_index = edge_index.long()
        # stable sort by (receiver, sender): deterministic order for any input order
        key = edge_index[1] * num_senders + edge_index[0]
        order = torch.sort(key, stable=True).indices
        senders, receivers = edge_index[0, order], edge_index[1, order]
        self.num_senders = num_senders
        self.num_receivers = num_receivers
        self.num_edges = int(senders.numel())
        self.register_buffer("senders", senders.contiguous(), persistent=False)  # [edge]
        self.register_buffer("receivers", receivers.contiguous(), persistent=False)  # [edge]
        self.register_buffer(
            "attributes", edge_attr[order].float().contiguous(), persistent=False
        )  # [edge, attribute]
        degree = torch.bincount(receivers, minlength=num_receivers).float()
        self.register_buffer("degree", degree.unsqueeze(-1), persistent=False)  # [receiver, 1]
        self.chunks = receiver_chunks(receivers, num_receivers, max(1, chunks))
        self.register_buffer(
            "local_receivers", _local(receivers, self.chunks), persistent=False
        )  # [edge] receiver index within its chunk
        blocks = max(len(self.chunks), -(-self.num_edges // CPU_BLOCK_EDGES))
        self.cpu_blocks = receiver_chunks(receivers, num_receivers, blocks)
        self.register_buffer(
            "cpu_block_receivers", _local(receivers, self.cpu_blocks), persistent=False
        )  # [edge] receiver index within its CPU block

    def plan(
        self, device: torch.device
    ) -> tuple[tuple[tuple[int, int, int, int], ...], torch.Tensor]:
        """Chunks as ``(edge_start, edge_stop, receiver_start, receiver_stop)`` and the local
        receiver index ``[edge]`` to use on ``device``: small blocks on CPU, else ``chunks``."""
        chunks, local = self.chunks, self.local_receivers
        if device.type == "cpu":
            chunks, local = self.cpu_blocks, self.cpu_block_receivers
        spans = tuple(
            (c.edge_start, c.edge_stop, c.receiver_start, c.receiver_stop) for c in chunks
        )
        return spans, local


def _local(receivers: torch.Tensor, chunks: list[EdgeChunk]) -> torch.Tensor:
    """Receiver index of every edge within its chunk ``[edge]``."""
    return torch.cat([receivers[c.edge_start : c.edge_stop] - c.receiver_start for c in chunks])


class GraphBuffers(nn.Module):
    """Edge sets and static node features of a graph, as buffers that follow ``.to(device)``."""

    def __init__(self, graph: HeteroData, *, edge_chunks: int = 1) -> None:
        super().__init__()
        check_graph(graph)
        self.num_grid = int(graph[GRID].x.shape[0])
        self.num_mesh = int(graph[MESH].x.shape[0])
        sizes = {GRID: self.num_grid, MESH: self.num_mesh}
        self.edge_attribute_size = int(graph[GRID, "to", MESH].edge_attr.shape[1])
        self.register_buffer("grid_features", node_features(graph[GRID].x), persistent=False)
        self.register_buffer("mesh_features", node_features(graph[MESH].x), persistent=False)
        # indices of the nodes held into the whole graph's (all of them; a shard's owned ones)
        self.register_buffer("grid_ids", torch.arange(self.num_grid), persistent=False)
        self.register_buffer("mesh_ids", torch.arange(self.num_mesh), persistent=False)
        for name, (sender, receiver) in EDGE_SETS.items():
            store = graph[sender, "to", receiver]
            # the processor's edges are few; chunking pays off on the grid-sized mappers
            self.add_module(
                name,
                EdgeSet(
                    edge_index=store.edge_index,
                    edge_attr=store.edge_attr,
                    num_senders=sizes[sender],
                    num_receivers=sizes[receiver],
                    chunks=edge_chunks,
                ),
            )

    def counts(self) -> dict[str, int]:
        """Node and edge counts, the sizes the cost of a step depends on."""
        return {
            "grid_nodes": self.num_grid,
            "mesh_nodes": self.num_mesh,
            "encoder_edges": self.encoder.num_edges,
            "processor_edges": self.processor.num_edges,
            "decoder_edges": self.decoder.num_edges,
        }
