"""Vectorised gather/scatter primitives of message passing, over batches that share one graph.

Node features are ``[batch, node, channel]``; an edge set is a pair of index vectors
``[edge]``. Gathering is ``index_select`` along the node dimension (no copy of the indices per
batch element), sums over a receiver's edges are ``index_add_``, and the softmax over a
receiver's incoming edges subtracts the receiver's maximum (``scatter_reduce`` with ``amax``)
before exponentiating, as in Vaswani et al. (2017) restricted to graph neighbourhoods
(Shi et al. 2021, "Masked label prediction: unified message passing model").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.checkpoint import checkpoint

from wx_models.graph import EdgeChunk


def gather(nodes: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` of ``nodes`` ``[batch, node, channel]`` -> ``[batch, edge, channel]``."""
    return nodes.index_select(1, index)


def add_at(target: torch.Tensor, index: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``target[:, index[e]] += source[:, e]`` in place (``[batch, node | edge, channel]``)."""
    if target.shape[0] == 1 and source.shape[0] == 1:
        # the 2-D kernel along dim 0 is about twice as fast as the 3-D one along dim 1
        target[0].index_add_(0, index, source[0])
        return target
    return target.index_add_(1, index, source)


def scatter_sum(
    messages: torch.Tensor, receivers: torch.Tensor, num_receivers: int
) -> torch.Tensor:
    """Sum of ``messages`` ``[batch, edge, channel]`` per receiver -> ``[batch, receiver, channel]``."""
    batch, _, channels = messages.shape
    return add_at(messages.new_zeros(batch, num_receivers, channels), receivers, messages)


def segment_softmax(
    scores: torch.Tensor, receivers: torch.Tensor, num_receivers: int
) -> torch.Tensor:
    """Softmax of ``scores`` ``[batch, edge, head]`` over the edges of each receiver."""
    batch, edges, heads = scores.shape
    index = receivers.view(1, edges, 1).expand(batch, edges, heads)
    # the shift only guards exp against overflow: softmax is invariant to it, so no gradient
    maximum = scores.new_full((batch, num_receivers, heads), float("-inf")).scatter_reduce_(
        1, index, scores.detach(), reduce="amax"
    )  # [batch, receiver, head]
    weights = (scores - maximum.index_select(1, receivers)).exp()  # [batch, edge, head]
    total = scatter_sum(weights, receivers, num_receivers)  # [batch, receiver, head]
    return weights / total.index_select(1, receivers)


def over_chunks(
    function: Callable[..., tuple[torch.Tensor, ...]],
    chunks: Sequence[EdgeChunk],
    *tensors: torch.Tensor,
    recompute: bool = True,
) -> tuple[torch.Tensor, ...]:
    """Run ``function(chunk, *tensors)`` per chunk and concatenate its outputs along dim 1.

    With several chunks, gradients enabled and ``recompute``, every chunk is recomputed in the
    backward pass (``torch.utils.checkpoint``), so only one chunk's edge activations are alive
    at a time; functions that keep no edge activations pass ``recompute=False``.
    """
    if len(chunks) == 1:
        return function(chunks[0], *tensors)
    recompute = recompute and torch.is_grad_enabled()
    parts = []
    for chunk in chunks:
        if recompute:
            parts.append(checkpoint(function, chunk, *tensors, use_reentrant=False))
        else:
            parts.append(function(chunk, *tensors))
    return tuple(torch.cat(outputs, dim=1) for outputs in zip(*parts, strict=True))
