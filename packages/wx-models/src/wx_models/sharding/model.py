"""Run one encoder-processor-decoder across the ranks of a model group, unchanged.

:func:`shard_model` changes a model in place and touches no weight: the model's graph buffers
are replaced by the rank's part of the graph (owned nodes' static features, the edges whose
receivers the rank owns, indexed locally) and every mapper and processor layer gets a forward
pre-hook that exchanges the halo of its sender features (:mod:`wx_models.sharding.halo`) before
the layer runs on local receivers with local edges. The layers are the unsharded ones: a
processor layer, whose senders and receivers are the same node set, runs on ``[owned + halo]``
mesh nodes with receivers only among the owned ones, and a forward hook keeps the owned rows
of its output. The model then maps the rank's grid cells ``[batch, owned cell, input]`` to
``[batch, owned cell, output]``.

Parameters stay replicated and keep their names, so ``state_dict()`` is the unsharded
checkpoint. Each rank's backward pass yields the gradient of its own receivers' outputs;
:func:`wx_models.sharding.groups.reduce_gradients` sums them over the group.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from wx_models.attention import GraphAttention
from wx_models.encode_process_decode import EncoderProcessorDecoder
from wx_models.graph import EDGE_SETS, GRID, MESH, EdgeSet, GraphBuffers
from wx_models.sharding.groups import ModelGroups
from wx_models.sharding.halo import HaloExchange
from wx_models.sharding.partition import (
    EdgeSetSpec,
    PartitionError,
    PartitionPlan,
    RankPartition,
    edge_fingerprint,
    partition,
)


def find_network(model: nn.Module) -> EncoderProcessorDecoder:
    """The one :class:`EncoderProcessorDecoder` inside ``model`` (or ``model`` itself)."""
    found = [m for m in model.modules() if isinstance(m, EncoderProcessorDecoder)]
    if len(found) != 1:
        raise TypeError(
            f"{type(model).__name__}: expected exactly one EncoderProcessorDecoder inside, "
            f"found {len(found)}"
        )
    return found[0]


def unit_vectors(features: torch.Tensor) -> np.ndarray:
    """``[node, 3]`` unit vectors from the static node features (sin, cos lat; sin, cos lon)."""
    f = features.detach().double().cpu()
    return torch.stack([f[:, 1] * f[:, 3], f[:, 1] * f[:, 2], f[:, 0]], dim=-1).numpy()


def graph_inputs(graph: GraphBuffers) -> tuple[dict[str, np.ndarray], dict[str, EdgeSetSpec]]:
    """Node positions and edge sets of a model's graph buffers, in the model's edge order."""
    positions = {GRID: unit_vectors(graph.grid_features), MESH: unit_vectors(graph.mesh_features)}
    edge_sets = {}
    for name, (sender, receiver) in EDGE_SETS.items():
        edges: EdgeSet = getattr(graph, name)
        index = torch.stack([edges.senders, edges.receivers]).cpu().numpy()  # [2, edge]
        edge_sets[name] = EdgeSetSpec(sender_set=sender, receiver_set=receiver, edge_index=index)
    return positions, edge_sets


def plan_model(model: nn.Module, parts: int) -> PartitionPlan:
    """Partition ``model``'s graph over ``parts`` ranks (the same plan on every rank)."""
    network = find_network(model)
    if isinstance(network.graph, LocalGraph):
        raise PartitionError("the model is already sharded: plan it before shard_model")
    return partition(*graph_inputs(network.graph), parts)


class LocalGraph(nn.Module):
    """A rank's part of :class:`GraphBuffers`, with the same attributes, indexed locally."""

    def __init__(self, graph: GraphBuffers, part: RankPartition) -> None:
        super().__init__()
        grid_ids = torch.as_tensor(part.owned[GRID], device=graph.grid_features.device)
        mesh_ids = torch.as_tensor(part.owned[MESH], device=graph.mesh_features.device)
        self.num_grid = int(grid_ids.numel())
        self.num_mesh = int(mesh_ids.numel())
        self.edge_attribute_size = graph.edge_attribute_size
        self.register_buffer("grid_features", graph.grid_features[grid_ids], persistent=False)
        self.register_buffer("mesh_features", graph.mesh_features[mesh_ids], persistent=False)
        self.register_buffer("grid_ids", graph.grid_ids[grid_ids], persistent=False)
        self.register_buffer("mesh_ids", graph.mesh_ids[mesh_ids], persistent=False)
        for name in EDGE_SETS:
            edges: EdgeSet = getattr(graph, name)
            local = part.edges[name]
            num_senders = part.owned[local.sender_set].size + local.halo.size
            # a processor layer runs on [owned + halo] nodes: halo rows receive nothing
            same_nodes = local.sender_set == local.receiver_set
            num_receivers = num_senders if same_nodes else part.owned[local.receiver_set].size
            ids = torch.as_tensor(local.edge_ids, device=edges.attributes.device)
            self.add_module(
                name,
                EdgeSet(
                    edge_index=torch.as_tensor(local.edge_index, device=ids.device),
                    edge_attr=edges.attributes[ids],
                    num_senders=num_senders,
                    num_receivers=num_receivers,
                    chunks=len(edges.chunks),
                ),
            )

    def counts(self) -> dict[str, int]:
        """Node and edge counts of this rank's part."""
        return {
            "grid_nodes": self.num_grid,
            "mesh_nodes": self.num_mesh,
            "encoder_edges": self.encoder.num_edges,
            "processor_edges": self.processor.num_edges,
            "decoder_edges": self.decoder.num_edges,
        }


def _mapper_hook(exchange: HaloExchange):
    def exchange_senders(module, args):
        senders, receivers, *rest = args
        return (exchange(senders), receivers, *rest)

    return exchange_senders


def _processor_hooks(exchange: HaloExchange, num_owned: int):
    def exchange_nodes(module, args):
        nodes, second, *rest = args
        extended = exchange(nodes)  # [batch, owned + halo, latent]
        # attention layers take (senders, receivers) = (nodes, nodes); interaction layers
        # take (nodes, edge latents)
        return (extended, extended if isinstance(module, GraphAttention) else second, *rest)

    def keep_owned(module, args, output):
        if isinstance(output, tuple):
            return (output[0][:, :num_owned], *output[1:])
        return output[:, :num_owned]  # [batch, owned, latent]

    return exchange_nodes, keep_owned


@dataclass
class ShardedModel:
    """The handle :func:`shard_model` returns: plan, groups, halo exchanges, and undo."""

    model: nn.Module
    plan: PartitionPlan
    groups: ModelGroups
    exchanges: dict[str, HaloExchange]
    _full_graph: GraphBuffers | None = field(default=None, repr=False)
    _hooks: list = field(default_factory=list, repr=False)
    _cell_counts: list = field(default_factory=list, repr=False)  # (module, full count)

    @property
    def part(self) -> RankPartition:
        return self.plan.ranks[self.groups.rank_in_group]

    @property
    def grid_cells(self) -> np.ndarray:
        """Global ids ``[cell]`` of the grid cells this rank owns (ascending)."""
        return self.part.owned[GRID]

    def gather_grid(self, values: torch.Tensor) -> torch.Tensor:
        """The whole grid ``[batch, cell, ...]`` from every rank's ``[batch, owned cell, ...]``.

        For outputs that are written or scored on the whole grid (inference, validation); not
        differentiable. Every rank of the group must call it and every rank gets the result.
        """
        if self.groups.group_size == 1:
            return values
        owned = [torch.as_tensor(rank.owned[GRID]) for rank in self.plan.ranks]
        longest = max(ids.numel() for ids in owned)
        padded = values.new_zeros((values.shape[0], longest, *values.shape[2:]))
        padded[:, : values.shape[1]] = values.detach()  # all_gather needs equal sizes
        parts = [torch.empty_like(padded) for _ in owned]
        dist.all_gather(parts, padded.contiguous(), group=self.groups.model_group)
        grid = values.new_empty(
            (values.shape[0], sum(ids.numel() for ids in owned), *values.shape[2:])
        )
        for ids, part in zip(owned, parts, strict=True):
            grid[:, ids.to(values.device)] = part[:, : ids.numel()]  # [batch, cell, ...]
        return grid

    def communication(self) -> dict[str, Any]:
        """Bytes this rank sent in forward halo exchanges so far, per exchange and in total."""
        per_exchange = {name: x.bytes_sent for name, x in self.exchanges.items()}
        return {"per_exchange": per_exchange, "total": sum(per_exchange.values())}

    def remove(self) -> nn.Module:
        """Undo the sharding: remove the hooks and put the full graph back.

        Needs ``shard_model(..., keep_full_graph=True)``; otherwise load the model anew.
        """
        if self._full_graph is None:
            raise PartitionError(
                "cannot unshard: the model was sharded without keep_full_graph=True, so its "
                "full graph is gone; build or load the model again"
            )
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
        for module, count in self._cell_counts:
            module.num_cells = count
        self._cell_counts.clear()
        network = find_network(self.model)
        network.graph = self._full_graph.to(network.graph.grid_features.device)
        self._full_graph = None
        return self.model

    @contextlib.contextmanager
    def whole_grid(self) -> Iterator[nn.Module]:
        """Temporarily give the model its whole-grid cell counts (and full graph, if kept).

        For code that describes the whole model, such as ``save_checkpoint``, whose header
        records ``num_cells``: ``with sharded.whole_grid(): save_checkpoint(path, model, ...)``.
        Do not run the model inside.
        """
        network = find_network(self.model)
        local_graph = network.graph
        local_counts = [(module, module.num_cells) for module, _ in self._cell_counts]
        for module, count in self._cell_counts:
            module.num_cells = count
        if self._full_graph is not None:
            network.graph = self._full_graph
        try:
            yield self.model
        finally:
            network.graph = local_graph
            for module, count in local_counts:
                module.num_cells = count


def shard_model(
    model: nn.Module, plan: PartitionPlan, groups: ModelGroups, *, keep_full_graph: bool = False
) -> ShardedModel:
    """Shard ``model`` in place for this rank of ``groups`` following ``plan``.

    ``plan`` must come from :func:`plan_model` on the same (unsharded) model with
    ``parts == groups.group_size``. Shard before moving the model to its device, so the full
    graph never reaches it. ``keep_full_graph`` keeps the full graph buffers on the host for
    :meth:`ShardedModel.remove` and :meth:`ShardedModel.whole_grid`.
    """
    network = find_network(model)
    if isinstance(network.graph, LocalGraph):
        raise PartitionError(f"{type(model).__name__} is already sharded")
    if network.cell_stencil is not None and network.cell_stencil.size > 1:
        raise PartitionError(
            f"cell_stencil {network.cell_stencil.size} reads neighbouring cells' inputs, which a "
            "shard does not hold: shard a model with cell_stencil 0 or 1"
        )
    if plan.parts != groups.group_size:
        raise PartitionError(
            f"partition plan has {plan.parts} parts but the model group has "
            f"{groups.group_size} ranks"
        )
    if edge_fingerprint(graph_inputs(network.graph)[1]) != plan.fingerprint:
        raise PartitionError(
            "partition plan was made from another graph (edge fingerprint differs): "
            "make it with plan_model(model, parts) on this model"
        )
    part = plan.ranks[groups.rank_in_group]
    full_graph = network.graph
    network.graph = LocalGraph(full_graph, part)
    exchanges = {
        name: HaloExchange(name=name, pattern=part.edges[name].exchange, group=groups.model_group)
        for name in EDGE_SETS
    }
    sharded = ShardedModel(
        model=model,
        plan=plan,
        groups=groups,
        exchanges=exchanges,
        _full_graph=full_graph if keep_full_graph else None,
    )
    hooks = sharded._hooks
    for name in ("encoder", "decoder"):
        layer = getattr(network, name)
        hooks.append(layer.register_forward_pre_hook(_mapper_hook(exchanges[name])))
    pre, post = _processor_hooks(exchanges["processor"], part.owned[MESH].size)
    for layer in network.processor:
        hooks.append(layer.register_forward_pre_hook(pre))
        hooks.append(layer.register_forward_hook(post))
    _localise_cell_counts(sharded, full_graph.num_grid, part.owned[GRID].size)
    return sharded


def _localise_cell_counts(sharded: ShardedModel, full: int, local: int) -> None:
    """Give wrappers that check or reshape by the grid size the rank's cell count.

    That is ``WeatherModel.num_cells``; the wrapper's grid coordinates stay whole (index them
    with :attr:`ShardedModel.grid_cells`), so a checkpoint written from a rank is complete.
    """
    for module in sharded.model.modules():
        count = getattr(module, "num_cells", None)
        if isinstance(count, int) and count == full:
            sharded._cell_counts.append((module, full))
            module.num_cells = local
