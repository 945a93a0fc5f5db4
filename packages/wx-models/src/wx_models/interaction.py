"""Interaction networks (Battaglia et al. 2016) as used by GraphCast (Lam et al. 2023).

An edge update is an MLP of the concatenation ``[edge, sender, receiver]``; a node update is an
MLP of ``[node, sum of incoming messages]``; both are added to their inputs (residuals) and end
in a LayerNorm, with SiLU (swish) activations.

Two exact rewrites make it cheap:
- the first layer of the edge MLP on a concatenation is a sum of three projections,
  ``W [e; s; r] = W_e e + W_s s + W_r r``: the node terms are projected once per node and then
  gathered, instead of once per edge (a mesh node has about 8 edges, a grid node 3 to 5);
- in a mapper (grid to mesh, mesh to grid) edges carry no latent state, so the message is the
  edge MLP's linear output layer, and the sum over a receiver's edges commutes with it:
  ``sum_e (W_2 h_e + b_2) = W_2 (sum_e h_e) + degree * b_2``. The node MLP's first layer is
  linear too, so ``W_2`` and ``b_2`` merge into it: the node MLP reads
  ``[node, sum_e h_e, degree]`` and no per-edge matrix multiply is left in a mapper.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from wx_models.graph import EdgeChunk, EdgeSet
from wx_models.message_passing import add_at, gather, over_chunks
from wx_models.mlp import MLP


class InteractionMapper(nn.Module):
    """Messages from one node set to another (encoder grid2mesh, decoder mesh2grid)."""

    def __init__(self, *, latent_size: int, mlp_hidden_size: int, edge_attribute_size: int) -> None:
        super().__init__()
        self.sender_projection = nn.Linear(latent_size, mlp_hidden_size, bias=False)
        self.receiver_projection = nn.Linear(latent_size, mlp_hidden_size, bias=False)
        self.edge_projection = nn.Linear(edge_attribute_size, mlp_hidden_size)
        # reads [receiver latent, sum of edge hidden layers, degree]: see the module docstring
        self.node_mlp = MLP(
            input_size=latent_size + mlp_hidden_size + 1,
            hidden_size=mlp_hidden_size,
            output_size=latent_size,
        )

    def forward(
        self, senders: torch.Tensor, receivers: torch.Tensor, edges: EdgeSet
    ) -> torch.Tensor:
        """Updated receivers ``[batch, receiver, latent]`` from senders ``[batch, sender, latent]``."""
        sender_hidden = self.sender_projection(senders)  # [batch, sender, hidden]
        receiver_hidden = self.receiver_projection(receivers)  # [batch, receiver, hidden]

        def hidden_sums(chunk: EdgeChunk, sender_hidden, receiver_hidden):
            span = slice(chunk.edge_start, chunk.edge_stop)
            hidden = gather(sender_hidden, edges.senders[span])  # [batch, edge, hidden]
            hidden += gather(receiver_hidden, edges.receivers[span])
            hidden += self.edge_projection(edges.attributes[span]).unsqueeze(0)
            hidden = functional.silu(hidden)
            total = hidden.new_zeros(
                hidden.shape[0], chunk.receiver_stop - chunk.receiver_start, hidden.shape[2]
            )  # [batch, receiver, hidden]
            return (add_at(total, edges.local_receivers[span], hidden),)

        (summed,) = over_chunks(hidden_sums, edges.chunks, sender_hidden, receiver_hidden)
        degree = edges.degree.to(summed.dtype).expand(summed.shape[0], -1, -1)
        update = self.node_mlp(torch.cat([receivers, summed, degree], dim=-1))
        return receivers + update  # [batch, receiver, latent]


class InteractionLayer(nn.Module):
    """One processor step on the mesh: edges and nodes both carry latent state."""

    def __init__(self, *, latent_size: int, mlp_hidden_size: int) -> None:
        super().__init__()
        self.mlp_hidden_size = mlp_hidden_size
        # sender and receiver projections of the first edge layer in one matrix multiply
        self.node_projection = nn.Linear(latent_size, 2 * mlp_hidden_size, bias=False)
        self.edge_projection = nn.Linear(latent_size, mlp_hidden_size)
        self.edge_output = nn.Linear(mlp_hidden_size, latent_size)
        self.edge_norm = nn.LayerNorm(latent_size)
        self.node_mlp = MLP(
            input_size=2 * latent_size, hidden_size=mlp_hidden_size, output_size=latent_size
        )

    def forward(
        self, nodes: torch.Tensor, edge_latents: torch.Tensor, edges: EdgeSet
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Nodes ``[batch, node, latent]`` and edges ``[batch or 1, edge, latent]``, updated."""
        projected = self.node_projection(nodes)  # [batch, node, 2 * hidden]
        sender_hidden, receiver_hidden = projected.split(self.mlp_hidden_size, dim=-1)

        def edge_update(chunk: EdgeChunk, edge_latents, sender_hidden, receiver_hidden):
            span = slice(chunk.edge_start, chunk.edge_stop)
            latents = edge_latents[:, span]  # [batch or 1, edge, latent]
            hidden = gather(sender_hidden, edges.senders[span])  # [batch, edge, hidden]
            hidden += gather(receiver_hidden, edges.receivers[span])
            hidden += self.edge_projection(latents)
            hidden = functional.silu(hidden)
            messages = self.edge_norm(self.edge_output(hidden))  # [batch, edge, latent]
            total = messages.new_zeros(
                messages.shape[0], chunk.receiver_stop - chunk.receiver_start, messages.shape[2]
            )  # [batch, receiver, latent]
            add_at(total, edges.local_receivers[span], messages)
            return latents + messages, total

        edge_latents, summed = over_chunks(
            edge_update, edges.chunks, edge_latents, sender_hidden, receiver_hidden
        )
        update = self.node_mlp(torch.cat([nodes, summed], dim=-1))  # [batch, node, latent]
        return nodes + update, edge_latents
