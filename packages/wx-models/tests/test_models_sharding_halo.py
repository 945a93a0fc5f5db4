"""Halo exchange and model groups over gloo: sharded message passing equals the unsharded one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from wx_models.sharding import GroupSizeError, HaloExchange, ModelGroups, reduce_gradients
from wx_models.sharding.local import run_local
from wx_models.sharding.partition import EdgeSetSpec, partition

pytestmark = pytest.mark.distributed

NODES, EDGES, BATCH, CHANNELS = 40, 160, 2, 3


def random_problem():
    """Points on the sphere, a random edge set among them and features, the same on every rank."""
    generator = torch.Generator().manual_seed(7)
    xyz = torch.nn.functional.normalize(torch.randn(NODES, 3, generator=generator), dim=-1)
    edge_index = torch.randint(0, NODES, (2, EDGES), generator=generator)  # [2, edge]
    features = torch.randn(BATCH, NODES, CHANNELS, generator=generator, dtype=torch.float64)
    edge_weight = torch.randn(EDGES, 1, generator=generator, dtype=torch.float64)
    readout = torch.randn(BATCH, NODES, CHANNELS, generator=generator, dtype=torch.float64)
    return xyz.numpy().astype(np.float64), edge_index, features, edge_weight, readout


def message_passing(features, senders, receivers, edge_weight, num_receivers):
    """Sum over each receiver's edges of weight times the sender's features (a sparse matmul)."""
    messages = features.index_select(1, senders) * edge_weight  # [batch, edge, channel]
    total = features.new_zeros(features.shape[0], num_receivers, features.shape[2])
    return total.index_add(1, receivers, messages)  # [batch, receiver, channel]


def check_sharded_message_passing(rank, world_size):
    xyz, edge_index, features, edge_weight, readout = random_problem()
    spec = EdgeSetSpec(sender_set="nodes", receiver_set="nodes", edge_index=edge_index.numpy())
    plan = partition({"nodes": xyz}, {"edges": spec}, world_size)
    part = plan.ranks[rank]
    local = part.edges["edges"]
    owned = torch.as_tensor(part.owned["nodes"])

    reference_input = features.clone().requires_grad_(True)
    reference = message_passing(reference_input, edge_index[0], edge_index[1], edge_weight, NODES)
    (reference * readout).sum().backward()

    exchange = HaloExchange(name="edges", pattern=local.exchange)
    local_input = features[:, owned].clone().requires_grad_(True)
    extended = exchange(local_input)  # [batch, owned + halo, channel]
    halo = torch.as_tensor(local.halo)
    torch.testing.assert_close(extended[:, owned.numel() :], features[:, halo], rtol=0, atol=0)
    local_index = torch.as_tensor(local.edge_index)
    output = message_passing(
        extended, local_index[0], local_index[1], edge_weight[local.edge_ids], owned.numel()
    )
    torch.testing.assert_close(output, reference[:, owned], rtol=0, atol=1e-12)
    (output * readout[:, owned]).sum().backward()
    # gradients of this rank's features include the uses on other ranks, sent back to the owner
    torch.testing.assert_close(local_input.grad, reference_input.grad[:, owned], rtol=0, atol=1e-12)
    assert exchange.calls == 1
    assert exchange.bytes_sent == local.exchange.sent_rows * BATCH * CHANNELS * 8
    assert exchange.bytes_per_call(batch=BATCH, channels=CHANNELS, element_size=8) == (
        exchange.bytes_sent
    )


@pytest.mark.parametrize("world_size", [2, 4])
def test_sharded_message_passing_equals_unsharded_with_gradients(world_size):
    run_local(world_size, check_sharded_message_passing)


def test_one_rank_exchange_is_the_identity():
    xyz, edge_index, *_ = random_problem()
    spec = EdgeSetSpec(sender_set="nodes", receiver_set="nodes", edge_index=edge_index.numpy())
    plan = partition({"nodes": xyz}, {"edges": spec}, 1)
    exchange = HaloExchange(name="edges", pattern=plan.ranks[0].edges["edges"].exchange)
    features = torch.randn(1, NODES, 2)
    assert exchange(features) is features
    assert exchange.bytes_sent == 0
    with pytest.raises(
        ValueError, match="halo exchange 'edges': expected \\[batch, node, channel\\]"
    ):
        exchange(features[0])


def check_groups(rank, world_size):
    groups = ModelGroups.from_world(2)
    assert (groups.num_groups, groups.group_index, groups.rank_in_group) == (2, rank // 2, rank % 2)
    # one sample per model group: both ranks of a group draw the same indices
    sampler = DistributedSampler(range(10), shuffle=True, seed=3, **groups.sampler_arguments())
    indices = torch.tensor(list(sampler))
    gathered = [torch.zeros_like(indices) for _ in range(world_size)]
    dist.all_gather(gathered, indices)
    assert torch.equal(gathered[0], gathered[1]) and torch.equal(gathered[2], gathered[3])
    assert not set(gathered[0].tolist()) & set(gathered[2].tolist())
    # group sums stay within the group
    total = groups.model_group_sum(torch.tensor([float(rank + 1)]))
    assert total.item() == (3.0 if rank < 2 else 7.0)
    # gradients: summed within a group (1 + 2 = 3, 3 + 4 = 7), averaged across groups (5)
    weight = torch.nn.Parameter(torch.zeros(3))
    unused = torch.nn.Parameter(torch.zeros(2))
    weight.grad = torch.full((3,), float(rank + 1))
    if rank == 0:  # a gradient missing on one rank counts as zero
        unused.grad = torch.ones(2)
    reduce_gradients([weight, unused], groups)
    torch.testing.assert_close(weight.grad, torch.full((3,), 5.0))
    torch.testing.assert_close(unused.grad, torch.full((2,), 0.5))
    with pytest.raises(GroupSizeError, match="world size 4 is not a multiple of the group size"):
        ModelGroups.from_world(3)


def test_model_groups_split_the_world_and_reduce_gradients():
    run_local(4, check_groups)


def test_group_size_without_torch_distributed_is_explained():
    assert ModelGroups.from_world(1) == ModelGroups.single()
    with pytest.raises(GroupSizeError, match="needs torch.distributed: launch with torchrun"):
        ModelGroups.from_world(2)
    with pytest.raises(GroupSizeError, match="expected >= 1"):
        ModelGroups.from_world(0)
