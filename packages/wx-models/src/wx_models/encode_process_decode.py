"""Encoder-processor-decoder on a grid and a mesh (Battaglia et al. 2018; GraphCast, Lam et al. 2023).

The grid inputs and static node features are embedded; the encoder maps the grid to the mesh
(grid2mesh), the processor runs ``processor_layers`` steps on the mesh (weights unshared), the
decoder maps back to the grid (mesh2grid, receivers start from the grid's embedding) and an MLP
reads the outputs. Optional trainable node features (``trainable_features``: a free vector per
grid cell and per mesh node, learnt with the weights, as the trainable tensors of AIFS, Lang et
al. 2024) join the fixed position features: they let a regional model learn what a cell's
position alone does not say, such as a land cell's diurnal range. With ``cell_readout`` a
linear map with each grid cell's own weights (``[cell, latent, output]``, zero at the start)
is added to the shared output MLP: the cell-by-cell coefficients of a local regression, as
Model Output Statistics fits one regression per station (Glahn and Lowry 1972), on top of the
shared network. With ``cell_stencil = K`` each cell also gets its own linear regression on the
inputs of its ``K`` nearest cells (:mod:`wx_models.cell_stencil`), so the network learns the
residual of a local linear model; ``stencil_extra`` trailing input columns are read by that
regression alone, never by the shared network. Two families share that skeleton:

- ``gnn`` (GraphCast): MLP embeddings, interaction-network mappers and processor layers
  (:mod:`wx_models.interaction`), edge latents carried through the processor;
- ``transformer`` (AIFS-like): a linear grid embedding, graph-attention mappers and processor
  layers (:mod:`wx_models.attention`); the encoder's keys and values are read from the grid
  features directly (the linear embedding and the key/value projection are one linear map) and
  the decoder is attention only, the output MLP acting as its node MLP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from torch_geometric.data import HeteroData

from wx_models.attention import GraphAttention
from wx_models.cell_stencil import CellStencil, check_stencil_size
from wx_models.graph import GRID, MESH, NODE_FEATURES, GraphBuffers
from wx_models.interaction import InteractionLayer, InteractionMapper
from wx_models.mlp import MLP

FAMILIES = ("gnn", "transformer")


class EncoderProcessorDecoder(nn.Module):
    """Maps grid inputs ``[batch, cell, input]`` to grid outputs ``[batch, cell, output]``.

    ``edge_chunks`` splits every edge set into that many receiver-aligned chunks, recomputed in
    the backward pass, to cap the memory of edge activations; ``activation_checkpointing``
    recomputes each mapper and processor layer in the backward pass instead of storing its
    activations.
    """

    def __init__(
        self,
        *,
        graph: HeteroData,
        input_size: int,
        output_size: int,
        family: Literal["gnn", "transformer"] = "gnn",
        latent_size: int = 128,
        processor_layers: int = 4,
        mlp_hidden_size: int = 128,
        heads: int = 4,
        edge_chunks: int = 1,
        activation_checkpointing: bool = False,
        trainable_features: Mapping[str, int] | None = None,
        cell_readout: bool = False,
        cell_stencil: int = 0,
        stencil_channels: Sequence[int] | None = None,
        stencil_extra: int = 0,
    ) -> None:
        super().__init__()
        trainable = check_trainable_features(trainable_features)
        if (
            isinstance(stencil_extra, bool)
            or not isinstance(stencil_extra, int)
            or stencil_extra < 0
        ):
            raise ValueError(f"stencil_extra {stencil_extra!r}: expected an integer >= 0")
        if stencil_extra and not cell_stencil:
            raise ValueError(f"stencil_extra {stencil_extra}: only a cell_stencil reads them")
        if not isinstance(cell_readout, bool):
            raise ValueError(f"cell_readout {cell_readout!r}: expected true or false")
        if family not in FAMILIES:
            raise ValueError(f"family {family!r}: expected one of {', '.join(FAMILIES)}")
        for name, value in (
            ("input_size", input_size),
            ("output_size", output_size),
            ("latent_size", latent_size),
            ("mlp_hidden_size", mlp_hidden_size),
            ("heads", heads),
            ("edge_chunks", edge_chunks),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} {value!r}: expected a positive integer")
        if not isinstance(processor_layers, int) or processor_layers < 0:
            raise ValueError(f"processor_layers {processor_layers!r}: expected an integer >= 0")
        self.family = family
        self.sizes = {
            "family": family,
            "input_size": input_size,
            "output_size": output_size,
            "latent_size": latent_size,
            "processor_layers": processor_layers,
            "mlp_hidden_size": mlp_hidden_size,
            "heads": heads,
            "trainable_features": trainable,
            "cell_readout": cell_readout,
            "cell_stencil": cell_stencil,
            "stencil_channels": None if stencil_channels is None else list(stencil_channels),
            "stencil_extra": stencil_extra,
        }
        self.activation_checkpointing = activation_checkpointing
        self.graph = GraphBuffers(graph, edge_chunks=edge_chunks)
        attributes = self.graph.edge_attribute_size
        # zero at the start: the network begins as one without them
        self.trainable = nn.ParameterDict(
            {
                name: nn.Parameter(torch.zeros(count, size))  # [node, size]
                for name, count, size in (
                    (GRID, self.graph.num_grid, trainable[GRID]),
                    (MESH, self.graph.num_mesh, trainable[MESH]),
                )
                if size
            }
        )
        grid_size = input_size + NODE_FEATURES + trainable[GRID]
        self.mesh_embedding = MLP(
            input_size=NODE_FEATURES + trainable[MESH],
            hidden_size=latent_size,
            output_size=latent_size,
        )
        if family == "gnn":
            self.grid_embedding = MLP(
                input_size=grid_size, hidden_size=latent_size, output_size=latent_size
            )
            self.processor_edge_embedding = MLP(
                input_size=attributes, hidden_size=latent_size, output_size=latent_size
            )
            mapper = {"latent_size": latent_size, "mlp_hidden_size": mlp_hidden_size}
            self.encoder = InteractionMapper(**mapper, edge_attribute_size=attributes)
            self.processor = nn.ModuleList(
                InteractionLayer(**mapper) for _ in range(processor_layers)
            )
            self.decoder = InteractionMapper(**mapper, edge_attribute_size=attributes)
            self.output_norm = nn.Identity()  # the decoder's node MLP already ends in LayerNorm
        else:
            block = {
                "latent_size": latent_size,
                "mlp_hidden_size": mlp_hidden_size,
                "heads": heads,
                "edge_attribute_size": attributes,
            }
            self.grid_embedding = nn.Linear(grid_size, latent_size)
            self.encoder = GraphAttention(
                **block, same_nodes=False, sender_size=grid_size, normalise_senders=False
            )
            self.processor = nn.ModuleList(
                GraphAttention(**block, same_nodes=True) for _ in range(processor_layers)
            )
            self.decoder = GraphAttention(**block, same_nodes=False, node_mlp=False)
            self.output_norm = nn.LayerNorm(latent_size)  # pre-LN stream is unnormalised
        self.output_head = MLP(
            input_size=latent_size,
            hidden_size=latent_size,
            output_size=output_size,
            layer_norm=False,
        )
        # a linear readout with each grid cell's own weights, zero at the start
        self.cell_readout = (
            nn.Parameter(torch.zeros(self.graph.num_grid, latent_size, output_size))
            if cell_readout
            else None
        )  # [cell, latent, output]
        # each cell's own regression on its nearest cells' inputs, zero at the start
        size = check_stencil_size(cell_stencil, self.graph.num_grid)
        self.cell_stencil = (
            CellStencil(
                positions=graph[GRID].x,
                size=size,
                input_size=input_size + stencil_extra,
                output_size=output_size,
                stencil_channels=stencil_channels,
            )
            if size
            else None
        )

    def forward(self, grid_inputs: torch.Tensor) -> torch.Tensor:
        """Grid outputs ``[batch, cell, output]`` from grid inputs ``[batch, cell, input]``, the
        ``stencil_extra`` columns last (read by the cell stencil alone)."""
        graph = self.graph
        batch = grid_inputs.shape[0]
        input_size, extra = self.sizes["input_size"], self.sizes["stencil_extra"]
        if grid_inputs.shape[-1] != input_size + extra:
            raise ValueError(
                f"grid inputs: expected {input_size} network and {extra} stencil-only columns, "
                f"got {grid_inputs.shape[-1]}"
            )
        network_inputs = grid_inputs[..., :input_size]  # [batch, cell, input]
        grid_static = self.static_features(GRID).to(grid_inputs.dtype).expand(batch, -1, -1)
        features = torch.cat([network_inputs, grid_static], dim=-1)  # [batch, cell, input + static]
        grid = self.grid_embedding(features)  # [batch, cell, latent]
        mesh = self.mesh_embedding(self.static_features(MESH)).expand(
            batch, -1, -1
        )  # [batch, mesh, latent]
        senders = grid if self.family == "gnn" else features
        mesh = self._run(self.encoder, senders, mesh, graph.encoder)
        if self.family == "gnn":
            edges = self.processor_edge_embedding(graph.processor.attributes).unsqueeze(0)
            for layer in self.processor:  # edges: [batch or 1, edge, latent]
                mesh, edges = self._run(layer, mesh, edges, graph.processor)
        else:
            for layer in self.processor:
                mesh = self._run(layer, mesh, mesh, graph.processor)
        grid = self._run(self.decoder, mesh, grid, graph.decoder)  # [batch, cell, latent]
        grid = self.output_norm(grid)
        outputs = self.output_head(grid)  # [batch, cell, output]
        # the graph's own cells: all of them, or a shard's owned ones (wx_models.sharding)
        if self.cell_readout is not None:
            weights = self.cell_readout.index_select(0, graph.grid_ids)  # [cell, latent, output]
            outputs = outputs + torch.einsum("bcl,clo->bco", grid, weights.to(grid.dtype))
        if self.cell_stencil is not None:
            outputs = outputs + self.cell_stencil(grid_inputs, graph.grid_ids).to(outputs.dtype)
        return outputs

    def static_features(self, name: str) -> torch.Tensor:
        """Position features ``[node, 4]`` of node set ``name``, then its trainable ones."""
        graph = self.graph
        fixed = graph.grid_features if name == GRID else graph.mesh_features
        if name not in self.trainable:
            return fixed
        # the graph's own nodes: all of them, or a shard's owned ones (wx_models.sharding)
        ids = graph.grid_ids if name == GRID else graph.mesh_ids
        learnt = self.trainable[name].index_select(0, ids)  # [node, trainable]
        return torch.cat([fixed, learnt.to(fixed.dtype)], dim=-1)  # [node, 4 + trainable]

    def _run(self, block: nn.Module, *inputs):
        if self.activation_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, *inputs, use_reentrant=False)
        return block(*inputs)


def check_trainable_features(sizes: Mapping[str, int] | None) -> dict[str, int]:
    """``{"data": n, "hidden": m}`` trainable feature sizes; ValueError naming a bad key."""
    sizes = dict(sizes or {})
    unknown = sorted(set(sizes) - {GRID, MESH})
    if unknown:
        raise ValueError(
            f"trainable_features: unknown node sets {unknown} (expected {GRID!r} and {MESH!r})"
        )
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"trainable_features.{name} {size!r}: expected an integer >= 0")
    return {GRID: sizes.get(GRID, 0), MESH: sizes.get(MESH, 0)}
