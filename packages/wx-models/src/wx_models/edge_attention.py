"""Multi-head attention over receiver-sorted edges with a hand-written backward pass.

Forward, per edge ``e`` from sender ``s`` to receiver ``r`` and head ``h`` (channels ``c`` of
the head):

    k_e = k_s + ek_e,  v_e = v_s + ev_e
    score_eh = s sum_c q_rc k_ec,  a_eh = exp(score_eh) / sum_{e' -> r} exp(score_e'h)
    out_rc = sum_{e -> r} a_eh v_ec            (s = 1 / sqrt(head size))

Backward (``g_e = dout_r`` gathered to the edge):

    dv_ec = a_eh g_ec                      -> summed into senders (dv) and kept per edge (dev)
    da_eh = sum_c g_ec v_ec
    dscore_eh = a_eh (da_eh - sum_{e' -> r} a_e'h da_e'h)      (softmax backward)
    dq_rc = s sum_{e -> r} dscore_eh k_ec,   dk_ec = s dscore_eh q_rc  -> senders (dk), edge (dek)

where ``ek_e = W_ek a_e`` and ``ev_e = W_ev a_e + b_ev`` are projections of the edge
attributes ``a_e`` (4 numbers), so ``dW_ek = sum_e dek_e a_e^T`` and likewise for ``W_ev``.

Autograd would keep several ``[batch, edge, latent]`` tensors per block (gathered queries,
keys, values, edge projections, expanded weights); this keeps only the node tensors it was
given, the edge attributes and the weights ``a`` ``[batch, edge, head]``, and gathers and
projects again in the backward pass: the edge memory of a block falls by about the
latent/head ratio. Head sums and head broadcasts are matrix multiplies with the 0/1 matrix
``head_sum`` ``[latent, head]``, much faster than reductions over short head dimensions.
"""

from __future__ import annotations

import torch

from wx_models.message_passing import add_at, segment_softmax


def _gather_edges(nodes: torch.Tensor, index: torch.Tensor, attributes=None, weight=None):
    """``nodes[:, index] + attributes @ weight.T`` ``[batch, edge, latent]``.

    The edge projection is accumulated into the gathered rows by ``addmm_``: one pass over the
    edge-sized array instead of a separate projection and sum.
    """
    gathered = nodes.index_select(1, index)  # [batch, edge, latent]
    if weight is not None:
        attributes, weight = attributes.to(gathered.dtype), weight.to(gathered.dtype)
        for sample in gathered:  # [edge, latent] views
            sample.addmm_(attributes, weight.T)
    return gathered


class EdgeAttention(torch.autograd.Function):
    """``out [batch, receiver, latent]``: attention of every receiver over its incoming edges.

    Arguments: ``queries [batch, receiver, latent]``, ``keys``, ``values [batch, sender,
    latent]``, edge ``attributes [edge, attribute]`` with the edge key projection
    ``key_weight [latent, attribute]`` (no bias: softmax cancels it) and the edge value
    projection ``value_weight``, ``value_bias``; receiver-sorted ``senders``, ``receivers``
    and ``local`` (receiver within its chunk) ``[edge]``; ``chunks``, a tuple of
    ``(edge_start, edge_stop, receiver_start, receiver_stop)`` that never splits a receiver;
    the head matrix ``head_sum [latent, head]``; ``scale`` multiplies the scores (``1 /
    sqrt(head size)``, applied to the small score matrix, not to the queries). Chunks bound the size of edge temporaries
    (small blocks are also reused by the memory allocator instead of being mapped afresh).
    """

    @staticmethod
    def forward(
        ctx,
        queries,
        keys,
        values,
        attributes,
        key_weight,
        value_weight,
        value_bias,
        senders,
        receivers,
        local,
        chunks,
        head_sum,
        scale: float,
    ):
        dtype = keys.dtype
        ctx.dtypes = [queries.dtype, keys.dtype, values.dtype]
        queries, values, head_sum = queries.to(dtype), values.to(dtype), head_sum.to(dtype)
        score_sum = head_sum * scale  # [latent, head]
        out = values.new_zeros(values.shape[0], queries.shape[1], values.shape[2])
        biased_values = values + value_bias.to(dtype)  # the edge value bias, added per node
        all_weights = []
        for edge_start, edge_stop, receiver_start, receiver_stop in chunks:
            span = slice(edge_start, edge_stop)
            edge_attributes = attributes[span]  # [edge, attribute]
            products = _gather_edges(queries, receivers[span])  # [batch, edge, latent]
            products.mul_(_gather_edges(keys, senders[span], edge_attributes, key_weight))
            weights = segment_softmax(
                products @ score_sum, local[span], receiver_stop - receiver_start
            )  # [batch, edge, head]
            del products
            messages = _gather_edges(biased_values, senders[span], edge_attributes, value_weight)
            messages.mul_(weights @ head_sum.T)
            add_at(out, receivers[span], messages)  # [batch, receiver, latent]
            all_weights.append(weights)
        weights = torch.cat(all_weights, dim=1)  # [batch, edge, head]
        ctx.save_for_backward(
            queries,
            keys,
            values,
            attributes,
            key_weight,
            value_weight,
            value_bias,
            weights,
            senders,
            receivers,
            local,
            head_sum,
        )
        ctx.chunks = chunks
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        saved = dict(zip(_SAVED, ctx.saved_tensors, strict=True))
        need = dict(zip(_INPUTS, ctx.needs_input_grad, strict=False))
        keys = saved["keys"]
        totals = {
            name: torch.zeros_like(saved[name]) if need[name] else None
            for name in ("queries", "keys", "values", "key_weight", "value_weight", "value_bias")
        }
        grad_out = grad_out.to(keys.dtype)
        saved["biased_values"] = saved["values"] + saved["value_bias"].to(keys.dtype)
        for chunk in ctx.chunks:
            _backward_chunk(chunk, grad_out, saved, totals, need, ctx.scale)
        grads = [totals["queries"], totals["keys"], totals["values"]]
        grads = [g if g is None else g.to(t) for g, t in zip(grads, ctx.dtypes, strict=True)]
        return (
            *grads,
            None,
            totals["key_weight"],
            totals["value_weight"],
            totals["value_bias"],
            *[None] * 6,  # senders, receivers, local, chunks, head_sum, scale
        )


_INPUTS = ("queries", "keys", "values", "attributes", "key_weight", "value_weight", "value_bias")
_SAVED = (
    "queries",
    "keys",
    "values",
    "attributes",
    "key_weight",
    "value_weight",
    "value_bias",
    "weights",
    "senders",
    "receivers",
    "local",
    "head_sum",
)


def _backward_chunk(chunk, grad_out, saved, totals, need, scale: float) -> None:
    """Add one chunk's gradients to ``totals``."""
    edge_start, edge_stop, receiver_start, receiver_stop = chunk
    span = slice(edge_start, edge_stop)
    senders, receivers, local = (saved[k][span] for k in ("senders", "receivers", "local"))
    queries, keys, head_sum = (saved[k] for k in ("queries", "keys", "head_sum"))
    weights = saved["weights"][:, span]  # [batch, edge, head]
    attributes = saved["attributes"][span]  # [edge, attribute]
    grad_edges = grad_out.index_select(1, receivers)  # [batch, edge, latent]
    values_edges = _gather_edges(saved["biased_values"], senders, attributes, saved["value_weight"])
    grad_weights = (values_edges.mul_(grad_edges)) @ head_sum  # [batch, edge, head]
    del values_edges
    grad_edges.mul_(weights @ head_sum.T)  # now d(values at edges) [batch, edge, latent]
    if need["values"]:
        add_at(totals["values"], senders, grad_edges)
    if need["value_weight"] or need["value_bias"]:
        per_edge = (grad_edges.sum(0) if grad_edges.shape[0] > 1 else grad_edges[0]).to(
            saved["value_weight"].dtype
        )  # [edge, latent]
        totals["value_weight"] += (attributes.T @ per_edge).T  # faster than per_edge.T @ a
        totals["value_bias"] += per_edge.sum(0)
    del grad_edges
    # softmax backward within each receiver
    weighted = weights * grad_weights  # [batch, edge, head]
    total = weighted.new_zeros(weighted.shape[0], receiver_stop - receiver_start, weighted.shape[2])
    add_at(total, local, weighted)
    grad_scores = weighted.sub_(weights * total.index_select(1, local))
    grad_products = grad_scores @ (head_sum.T * scale)  # [batch, edge, latent]
    if need["queries"]:
        grad_q = _gather_edges(keys, senders, attributes, saved["key_weight"])
        grad_q.mul_(grad_products)
        add_at(totals["queries"], receivers, grad_q)
        del grad_q
    if need["keys"] or need["key_weight"]:
        grad_k = _gather_edges(queries, receivers).mul_(grad_products)
        if need["keys"]:
            add_at(totals["keys"], senders, grad_k)
        if need["key_weight"]:
            summed = grad_k.sum(0) if grad_k.shape[0] > 1 else grad_k[0]
            totals["key_weight"] += (attributes.T @ summed.to(saved["key_weight"].dtype)).T
