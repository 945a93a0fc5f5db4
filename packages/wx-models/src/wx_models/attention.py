"""Graph transformer blocks: multi-head attention over each receiver's incoming edges.

Following Shi et al. (2021, "Masked label prediction", the TransformerConv of PyTorch Geometric)
and the graph transformer of AIFS (Lang et al. 2024): queries come from the receiver, keys and
values from the sender plus a projection of the edge's attributes, so the geometry of each edge
enters the keys and the values:

    q_r = W_q r,  k_e = W_k s + W_ke a_e,  v_e = W_v s + W_ve a_e
    alpha_e = softmax over the receiver's edges of (q_r . k_e) / sqrt(head size), per head
    r' = r + W_o sum_e alpha_e v_e;   r'' = r' + MLP(LayerNorm(r'))

with pre-LayerNorm on the inputs (Xiong et al. 2020). Node projections are computed once per
node and gathered; the edge attributes (4 numbers) are projected per edge. The edge part runs
in :class:`~wx_models.edge_attention.EdgeAttention`, which keeps no edge-sized activations.

Senders may be given in another width than the latent one: the encoder takes the grid's input
features directly, because a linear embedding followed by the key/value projection (as in
AIFS) is one linear map, computed here once and in the smaller width. A block may leave out
its node MLP (the decoder's, which the output MLP follows).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from wx_models.edge_attention import EdgeAttention
from wx_models.graph import EdgeSet
from wx_models.mlp import MLP


class GraphAttention(nn.Module):
    """Attention from senders to receivers over an edge set, then a node MLP; residual both."""

    def __init__(
        self,
        *,
        latent_size: int,
        mlp_hidden_size: int,
        heads: int,
        edge_attribute_size: int,
        same_nodes: bool,
        sender_size: int | None = None,
        normalise_senders: bool = True,
        node_mlp: bool = True,
    ) -> None:
        super().__init__()
        if latent_size % heads:
            raise ValueError(f"latent_size {latent_size} must be a multiple of heads {heads}")
        self.heads = heads
        self.latent_size = latent_size
        self.same_nodes = same_nodes
        sender_size = latent_size if sender_size is None else sender_size
        if same_nodes and sender_size != latent_size:
            raise ValueError("a block on one node set needs sender_size == latent_size")
        self.receiver_norm = nn.LayerNorm(latent_size)
        separate_norm = normalise_senders and not same_nodes
        self.sender_norm = nn.LayerNorm(sender_size) if separate_norm else nn.Identity()
        self.query = nn.Linear(latent_size, latent_size, bias=False)
        self.key = nn.Linear(sender_size, latent_size, bias=False)
        self.value = nn.Linear(sender_size, latent_size, bias=False)
        # no bias: q . b is the same for all of a receiver's edges, and softmax cancels it
        self.edge_key = nn.Linear(edge_attribute_size, latent_size, bias=False)
        self.edge_value = nn.Linear(edge_attribute_size, latent_size)
        self.output = nn.Linear(latent_size, latent_size)
        # sums a head's channels (and spreads a head's weight over its channels) as a matrix
        # multiply: much faster than reductions over the short head dimension
        head_of_channel = torch.arange(latent_size) // (latent_size // heads)
        self.register_buffer(
            "head_sum",
            (head_of_channel[:, None] == torch.arange(heads)[None, :]).float(),
            persistent=False,
        )  # [latent, head]
        self.has_node_mlp = node_mlp
        if node_mlp:
            self.mlp_norm = nn.LayerNorm(latent_size)
            self.mlp = MLP(
                input_size=latent_size,
                hidden_size=mlp_hidden_size,
                output_size=latent_size,
                layer_norm=False,
            )

    def forward(
        self, senders: torch.Tensor, receivers: torch.Tensor, edges: EdgeSet
    ) -> torch.Tensor:
        """Updated receivers ``[batch, receiver, latent]`` (``senders`` ignored if same nodes)."""
        normed_receivers = self.receiver_norm(receivers)
        normed_senders = normed_receivers if self.same_nodes else self.sender_norm(senders)
        scale = 1.0 / math.sqrt(self.latent_size // self.heads)
        queries = self.query(normed_receivers)  # [batch, receiver, latent]
        keys = self.key(normed_senders)  # [batch, sender, latent]
        values = self.value(normed_senders)  # [batch, sender, latent]

        chunks, local = edges.plan(queries.device)
        attended = EdgeAttention.apply(
            queries,
            keys,
            values,
            edges.attributes,
            self.edge_key.weight,
            self.edge_value.weight,
            self.edge_value.bias,
            edges.senders,
            edges.receivers,
            local,
            chunks,
            self.head_sum,
            scale,
        )  # [batch, receiver, latent]
        updated = receivers + self.output(attended)  # [batch, receiver, latent]
        if not self.has_node_mlp:
            return updated
        return updated + self.mlp(self.mlp_norm(updated))
