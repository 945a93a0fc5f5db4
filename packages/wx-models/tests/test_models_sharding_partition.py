"""Spatial partitions: every node and edge owned once, local indices exact, halos complete."""

from __future__ import annotations

import numpy as np
import pytest

from wx_models.debug import random_graph
from wx_models.encode_process_decode import EncoderProcessorDecoder
from wx_models.sharding import PartitionError, partition, plan_model
from wx_models.sharding.model import graph_inputs
from wx_models.sharding.partition import EdgeSetSpec, bisect


@pytest.fixture(scope="module")
def model():
    graph = random_graph(grid_nodes=300, mesh_nodes=60, seed=3)
    return EncoderProcessorDecoder(
        graph=graph,
        input_size=2,
        output_size=2,
        latent_size=8,
        processor_layers=1,
        mlp_hidden_size=8,
    )


@pytest.fixture(scope="module")
def inputs(model):
    return graph_inputs(model.graph)


@pytest.mark.parametrize("parts", [1, 2, 3, 4])
def test_every_node_and_edge_is_owned_by_exactly_one_rank(inputs, parts):
    positions, edge_sets = inputs
    plan = partition(positions, edge_sets, parts)
    for name, xyz in positions.items():
        owned = np.concatenate([rank.owned[name] for rank in plan.ranks])
        np.testing.assert_array_equal(np.sort(owned), np.arange(len(xyz)))
        for rank in plan.ranks:
            assert np.all(plan.owner[name][rank.owned[name]] == rank.rank)
    for name, spec in edge_sets.items():
        kept = np.concatenate([rank.edges[name].edge_ids for rank in plan.ranks])
        np.testing.assert_array_equal(np.sort(kept), np.arange(spec.edge_index.shape[1]))
        for rank in plan.ranks:  # a rank keeps exactly the edges whose receiver it owns
            receivers = spec.edge_index[1, rank.edges[name].edge_ids]
            assert np.all(plan.owner[spec.receiver_set][receivers] == rank.rank)


@pytest.mark.parametrize("parts", [2, 4])
def test_local_edges_map_back_to_the_global_edges(inputs, parts):
    positions, edge_sets = inputs
    plan = partition(positions, edge_sets, parts)
    for rank in plan.ranks:
        for name, spec in edge_sets.items():
            local = rank.edges[name]
            sender_rows = np.concatenate([rank.owned[spec.sender_set], local.halo])
            global_index = spec.edge_index[:, local.edge_ids]
            np.testing.assert_array_equal(sender_rows[local.edge_index[0]], global_index[0])
            np.testing.assert_array_equal(
                rank.owned[spec.receiver_set][local.edge_index[1]], global_index[1]
            )


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_halo_is_the_remote_senders_and_sends_match_receives(inputs, parts):
    positions, edge_sets = inputs
    plan = partition(positions, edge_sets, parts)
    for name, spec in edge_sets.items():
        owner = plan.owner[spec.sender_set]
        for rank in plan.ranks:
            local = rank.edges[name]
            senders = spec.edge_index[0, local.edge_ids]
            expected = np.unique(senders[owner[senders] != rank.rank])
            np.testing.assert_array_equal(np.sort(local.halo), expected)
            assert np.all(np.diff(owner[local.halo]) >= 0)  # grouped by owning rank
            assert local.exchange.receive_counts == tuple(
                int(np.sum(owner[local.halo] == q)) for q in range(parts)
            )
            assert local.exchange.receive_counts[rank.rank] == 0
        for r, sender in enumerate(plan.ranks):
            pattern = sender.edges[name].exchange
            blocks = np.split(pattern.send_index, np.cumsum(pattern.send_counts)[:-1])
            for q, receiver in enumerate(plan.ranks):
                # rows r sends to q are, in order, the rows of q's halo that r owns
                halo = receiver.edges[name].halo
                np.testing.assert_array_equal(
                    sender.owned[spec.sender_set][blocks[q]], halo[owner[halo] == r]
                )


def test_two_parts_are_separated_by_parallel_planes_one_per_node_set(inputs):
    positions, edge_sets = inputs
    plan = partition(positions, edge_sets, 2)

    def separated(name: str, axis: int) -> bool:
        side = [positions[name][plan.owner[name] == r, axis] for r in (0, 1)]
        return side[0].max() <= side[1].min() or side[1].max() <= side[0].min()

    assert any(separated("data", axis) and separated("hidden", axis) for axis in range(3))


def test_bisection_balances_weights_for_any_part_count():
    points = np.random.default_rng(0).normal(size=(1000, 3))
    for parts in (2, 3, 5, 8):
        counts = np.bincount(bisect(points, np.ones(1000), parts), minlength=parts)
        assert counts.max() - counts.min() <= 2, (parts, counts)


def test_summary_counts_add_up(model):
    plan = plan_model(model, 4)
    summary = plan.summary()
    assert summary["parts"] == 4
    assert sum(summary["nodes"]["data"]["per_rank"]) == 300
    assert sum(summary["nodes"]["hidden"]["per_rank"]) == 60
    assert sum(summary["edges"]["processor"]["per_rank"]) == model.graph.processor.num_edges
    sent = sum(rank.edges["encoder"].exchange.sent_rows for rank in plan.ranks)
    assert summary["edges"]["encoder"]["halo_total"] == sent
    assert summary["nodes"]["data"]["imbalance"] < 1.15


def test_same_inputs_give_the_same_plan(model):
    first, second = plan_model(model, 3), plan_model(model, 3)
    assert first.fingerprint == second.fingerprint
    for a, b in zip(first.ranks, second.ranks, strict=True):
        np.testing.assert_array_equal(a.owned["data"], b.owned["data"])
        np.testing.assert_array_equal(a.edges["decoder"].edge_index, b.edges["decoder"].edge_index)


def test_bad_requests_name_the_problem(inputs):
    positions, edge_sets = inputs
    with pytest.raises(PartitionError, match="parts 0: expected a positive integer"):
        partition(positions, edge_sets, 0)
    with pytest.raises(PartitionError, match="node set 'hidden' has 60 nodes: too few for 61"):
        partition(positions, edge_sets, 61)
    broken = dict(edge_sets)
    index = edge_sets["decoder"].edge_index.copy()
    index[1, 0] = 10_000
    broken["decoder"] = EdgeSetSpec(sender_set="hidden", receiver_set="data", edge_index=index)
    with pytest.raises(
        PartitionError, match="edge set 'decoder' row 1: indices outside node set 'data'"
    ):
        partition(positions, broken, 2)
    unknown = {"extra": EdgeSetSpec(sender_set="land", receiver_set="data", edge_index=index)}
    with pytest.raises(PartitionError, match="unknown node set 'land'"):
        partition(positions, unknown, 2)


def test_parts_of_a_global_graph_are_balanced():
    from wx_graphs import build_graph

    recipe = {
        "nodes": {
            "data": {"kind": "regular", "resolution": 4.0},
            "hidden": {"kind": "icosahedral", "refinement": 3},
        },
        "edges": [
            {"source": "data", "target": "hidden", "builder": "grid2mesh"},
            {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
            {"source": "hidden", "target": "data", "builder": "mesh2grid"},
        ],
    }
    network = EncoderProcessorDecoder(
        graph=build_graph(recipe).to_hetero_data(),
        input_size=1,
        output_size=1,
        latent_size=4,
        processor_layers=1,
        mlp_hidden_size=4,
    )
    for parts in (2, 4, 8):
        summary = plan_model(network, parts).summary()
        # each cut balances each node set's nodes plus incoming edges on its own
        assert summary["nodes"]["data"]["imbalance"] < 1.01, (parts, summary)
        imbalance = [v["imbalance"] for kind in ("nodes", "edges") for v in summary[kind].values()]
        assert max(imbalance) < 1.08, (parts, summary)
        # halos are boundaries: a small fraction of the senders
        assert summary["edges"]["processor"]["halo_total"] < 0.2 * parts * 642
