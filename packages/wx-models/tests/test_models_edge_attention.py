"""The fused edge attention against a plain autograd implementation, and its gradients."""

from __future__ import annotations

import pytest
import torch

from wx_models.edge_attention import EdgeAttention
from wx_models.graph import EdgeSet
from wx_models.message_passing import segment_softmax

BATCH, SENDERS, RECEIVERS, EDGES, LATENT, HEADS, ATTRIBUTES = 2, 5, 7, 24, 8, 2, 4


def head_sum() -> torch.Tensor:
    channel_head = torch.arange(LATENT) // (LATENT // HEADS)
    return (channel_head[:, None] == torch.arange(HEADS)[None]).double()


@pytest.fixture
def problem():
    generator = torch.Generator().manual_seed(0)
    index = torch.stack(
        [
            torch.randint(0, SENDERS, (EDGES,), generator=generator),
            torch.randint(0, RECEIVERS - 1, (EDGES,), generator=generator),  # last: no edges
        ]
    )
    attributes = torch.randn(EDGES, ATTRIBUTES, generator=generator, dtype=torch.float64)
    shapes = [
        (BATCH, RECEIVERS, LATENT),
        (BATCH, SENDERS, LATENT),
        (BATCH, SENDERS, LATENT),
        (LATENT, ATTRIBUTES),
        (LATENT, ATTRIBUTES),
        (LATENT,),
    ]
    inputs = [
        torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)
        for shape in shapes
    ]
    return index, attributes, inputs


def reference(index, attributes, queries, keys, values, key_weight, value_weight, value_bias):
    """The textbook version: every edge tensor materialised, autograd for the gradients."""
    senders, receivers = index
    edge_keys = keys[:, senders] + attributes @ key_weight.T
    edge_values = values[:, senders] + attributes @ value_weight.T + value_bias
    scores = 0.7 * (queries[:, receivers] * edge_keys) @ head_sum()  # [batch, edge, head]
    weights = segment_softmax(scores, receivers, RECEIVERS)
    messages = edge_values * (weights @ head_sum().T)
    return torch.zeros(BATCH, RECEIVERS, LATENT, dtype=messages.dtype).index_add(
        1, receivers, messages
    )


def fused(edges: EdgeSet, plan_device: str):
    chunks, local = edges.plan(torch.device(plan_device))

    def apply(queries, keys, values, key_weight, value_weight, value_bias):
        return EdgeAttention.apply(
            queries,
            keys,
            values,
            edges.attributes.double(),
            key_weight,
            value_weight,
            value_bias,
            edges.senders,
            edges.receivers,
            local,
            chunks,
            head_sum(),
            0.7,
        )

    return apply


@pytest.mark.parametrize("chunks", [1, 3])
def test_matches_the_reference_and_passes_gradcheck(problem, chunks):
    index, attributes, inputs = problem
    edges = EdgeSet(
        edge_index=index,
        edge_attr=attributes,
        num_senders=SENDERS,
        num_receivers=RECEIVERS,
        chunks=chunks,
    )
    # EdgeSet sorts the edges by receiver: the reference must see them in that order too
    ordered = torch.stack([edges.senders, edges.receivers])
    apply = fused(edges, "meta")  # the "chunks" plan, as on a GPU
    expected = reference(ordered, edges.attributes.double(), *inputs)
    torch.testing.assert_close(apply(*inputs), expected)
    assert torch.equal(apply(*inputs)[:, -1], torch.zeros(BATCH, LATENT, dtype=torch.float64))
    assert torch.autograd.gradcheck(apply, inputs)
    gradients = torch.autograd.grad(apply(*inputs).square().sum(), inputs)
    expected_gradients = torch.autograd.grad(expected.square().sum(), inputs)
    for got, want in zip(gradients, expected_gradients, strict=True):
        torch.testing.assert_close(got, want)


def test_cpu_blocks_give_the_same_result(problem, monkeypatch):
    monkeypatch.setattr("wx_models.graph.CPU_BLOCK_EDGES", 5)
    index, attributes, inputs = problem
    edges = EdgeSet(
        edge_index=index,
        edge_attr=attributes,
        num_senders=SENDERS,
        num_receivers=RECEIVERS,
        chunks=1,
    )
    assert len(edges.cpu_blocks) > 3 and len(edges.chunks) == 1
    torch.testing.assert_close(fused(edges, "cpu")(*inputs), fused(edges, "meta")(*inputs))
    assert torch.autograd.gradcheck(fused(edges, "cpu"), inputs)
