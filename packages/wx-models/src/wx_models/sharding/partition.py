"""Spatial partitions of the grid and the mesh, one per rank of a model group.

Both node sets are cut together by recursive coordinate bisection (Berger and Bokhari 1987,
"A partitioning strategy for nonuniform problems on multiprocessors"): the points, as unit
vectors, are split normal to the Cartesian axis of largest extent at the weighted median, and
each side again until there is one part per rank (an odd count splits in proportion, so any
group size works). Each node weighs one plus its incoming edges. Every cut uses the same axis
for both sets but balances each set on its own, so every part gets the same share of the grid
nodes plus their edges and of the mesh nodes plus theirs, while the grid and mesh parts of a
rank cover almost the same region (the two cut planes are parallel and close), so the encoder
and decoder edges, which join nearby grid and mesh nodes, mostly stay inside a rank.

A rank keeps every edge whose receiver it owns, so sums and softmaxes over a receiver's edges
are complete on one rank. The senders of those edges that other ranks own form the rank's halo;
local sender indices count the owned nodes first (ascending global id), then the halo (grouped
by owning rank, ascending within), which is the layout :mod:`wx_models.sharding.halo` produces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np


class PartitionError(ValueError):
    """A partition request that cannot be met: too many ranks, or a malformed graph."""


@dataclass(frozen=True)
class EdgeSetSpec:
    """An edge set to partition: which node sets it joins and its global edges."""

    sender_set: str
    receiver_set: str
    edge_index: np.ndarray  # [2, edge] int64, row 0 sender, row 1 receiver


@dataclass(frozen=True)
class HaloPattern:
    """One rank's halo exchange for one edge set: what it sends and receives, per rank."""

    send_index: np.ndarray  # [sent] owned-local rows sent, grouped by destination rank
    send_counts: tuple[int, ...]  # [rank] rows sent to each rank
    receive_counts: tuple[int, ...]  # [rank] halo rows received from each rank

    @property
    def halo_size(self) -> int:
        return sum(self.receive_counts)

    @property
    def sent_rows(self) -> int:
        return sum(self.send_counts)


@dataclass(frozen=True)
class LocalEdges:
    """The edges a rank keeps for one edge set, with local sender and receiver indices."""

    sender_set: str
    receiver_set: str
    edge_ids: np.ndarray  # [edge] positions in the global edge set
    edge_index: np.ndarray  # [2, edge] row 0 in [owned senders + halo], row 1 in owned receivers
    halo: np.ndarray  # [halo] global ids of the remote senders, grouped by owning rank
    exchange: HaloPattern

    @property
    def num_edges(self) -> int:
        return int(self.edge_ids.size)


@dataclass(frozen=True)
class RankPartition:
    """What one rank owns: node ids per node set and its edges per edge set."""

    rank: int
    owned: dict[str, np.ndarray]  # node set -> [node] global ids, ascending
    edges: dict[str, LocalEdges]  # edge set name -> local edges


@dataclass(frozen=True)
class PartitionPlan:
    """The partition of a graph over ``parts`` ranks; every rank computes the same plan."""

    parts: int
    owner: dict[str, np.ndarray]  # node set -> [node] owning rank
    ranks: tuple[RankPartition, ...]  # [rank]
    fingerprint: str  # SHA-256 of the edge indices the plan was made from

    def summary(self) -> dict[str, Any]:
        """Balance and halo sizes: counts per rank and the max/mean imbalance of each."""
        report: dict[str, Any] = {"parts": self.parts, "nodes": {}, "edges": {}}
        for name in self.owner:
            counts = [int(rank.owned[name].size) for rank in self.ranks]
            report["nodes"][name] = {"per_rank": counts, "imbalance": _imbalance(counts)}
        for name in self.ranks[0].edges:
            edges = [rank.edges[name].num_edges for rank in self.ranks]
            halo = [rank.edges[name].exchange.halo_size for rank in self.ranks]
            report["edges"][name] = {
                "per_rank": edges,
                "imbalance": _imbalance(edges),
                "halo_per_rank": halo,
                "halo_total": sum(halo),
            }
        return report


def _imbalance(counts: list[int]) -> float:
    mean = sum(counts) / len(counts)
    return round(max(counts) / mean, 4) if mean else 1.0


def bisect(
    points: np.ndarray, weights: np.ndarray, parts: int, *, sets: np.ndarray | None = None
) -> np.ndarray:
    """Part labels ``[point]`` in ``0..parts-1`` by recursive coordinate bisection.

    With ``sets`` (``[point]`` node set ids), every cut uses one axis for all points but
    balances each set's weight on its own: parallel planes, one per set, a few nodes apart.
    """
    labels = np.zeros(len(points), dtype=np.int64)
    sets = np.zeros(len(points), dtype=np.int64) if sets is None else sets
    _bisect_into(labels, np.arange(len(points)), points, weights, sets, 0, parts)
    return labels


def _bisect_into(labels, rows, points, weights, sets, first: int, parts: int) -> None:
    if parts == 1 or rows.size == 0:
        labels[rows] = first
        return
    coordinates = points[rows]  # [row, 3]
    axis = int(np.argmax(coordinates.max(axis=0) - coordinates.min(axis=0)))
    left_parts = parts // 2
    left, right = [], []
    for set_id in np.unique(sets[rows]):
        members = rows[sets[rows] == set_id]
        order = members[np.argsort(points[members, axis], kind="stable")]
        cumulative = np.cumsum(weights[order])  # [member]
        target = cumulative[-1] * left_parts / parts
        # the cut whose left weight is nearest the target, keeping a member on each side
        cut = int(np.argmin(np.abs(cumulative - target))) + 1
        cut = min(max(cut, 1), order.size - 1)
        left.append(order[:cut])
        right.append(order[cut:])
    _bisect_into(labels, np.concatenate(left), points, weights, sets, first, left_parts)
    _bisect_into(
        labels, np.concatenate(right), points, weights, sets, first + left_parts, parts - left_parts
    )


def edge_fingerprint(edge_sets: dict[str, EdgeSetSpec]) -> str:
    """SHA-256 of the edge sets' names, node sets and indices: which graph a plan belongs to."""
    digest = hashlib.sha256()
    for name in sorted(edge_sets):
        spec = edge_sets[name]
        digest.update(f"{name}:{spec.sender_set}->{spec.receiver_set}".encode())
        digest.update(np.ascontiguousarray(spec.edge_index, dtype=np.int64).tobytes())
    return digest.hexdigest()


def check_inputs(positions: dict[str, np.ndarray], edge_sets: dict[str, EdgeSetSpec], parts: int):
    """Raise :class:`PartitionError` naming the item unless the inputs can be partitioned."""
    if not isinstance(parts, int) or parts < 1:
        raise PartitionError(f"parts {parts!r}: expected a positive integer (the group size)")
    for name, xyz in positions.items():
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise PartitionError(f"node set {name!r}: positions must be [node, 3], got {xyz.shape}")
        if xyz.shape[0] < parts:
            raise PartitionError(
                f"node set {name!r} has {xyz.shape[0]} nodes: too few for {parts} ranks"
            )
    for name, spec in edge_sets.items():
        for end, row in ((spec.sender_set, 0), (spec.receiver_set, 1)):
            if end not in positions:
                raise PartitionError(f"edge set {name!r} refers to unknown node set {end!r}")
            index = spec.edge_index[row]
            if index.size and (index.min() < 0 or index.max() >= len(positions[end])):
                raise PartitionError(
                    f"edge set {name!r} row {row}: indices outside node set {end!r} "
                    f"of {len(positions[end])} nodes"
                )


def node_weights(positions: dict[str, np.ndarray], edge_sets: dict[str, EdgeSetSpec]):
    """One plus the incoming edge count ``[node]`` of every node, per node set."""
    weights = {name: np.ones(len(xyz)) for name, xyz in positions.items()}
    for spec in edge_sets.values():
        weights[spec.receiver_set] += np.bincount(
            spec.edge_index[1], minlength=len(positions[spec.receiver_set])
        )
    return weights


def partition(
    positions: dict[str, np.ndarray], edge_sets: dict[str, EdgeSetSpec], parts: int
) -> PartitionPlan:
    """Partition node sets (unit vectors ``[node, 3]``) and edge sets over ``parts`` ranks."""
    check_inputs(positions, edge_sets, parts)
    names = list(positions)
    weights = node_weights(positions, edge_sets)
    labels = bisect(
        np.concatenate([positions[name] for name in names]),
        np.concatenate([weights[name] for name in names]),
        parts,
        sets=np.concatenate([np.full(len(positions[name]), i) for i, name in enumerate(names)]),
    )
    owner, start = {}, 0
    for name in names:
        owner[name] = labels[start : start + len(positions[name])]
        start += len(positions[name])
        empty = sorted(set(range(parts)) - set(np.unique(owner[name]).tolist()))
        if empty:
            raise PartitionError(
                f"node set {name!r}: ranks {empty} would own none of its "
                f"{len(positions[name])} nodes; use fewer ranks per model"
            )
    owned = {name: [np.flatnonzero(owner[name] == r) for r in range(parts)] for name in names}
    local_edges = {
        name: _partition_edges(spec, owner, owned, parts) for name, spec in edge_sets.items()
    }
    ranks = tuple(
        RankPartition(
            rank=r,
            owned={name: owned[name][r] for name in names},
            edges={name: local_edges[name][r] for name in edge_sets},
        )
        for r in range(parts)
    )
    return PartitionPlan(
        parts=parts, owner=owner, ranks=ranks, fingerprint=edge_fingerprint(edge_sets)
    )


def _slots(owned_lists: list[np.ndarray], size: int) -> np.ndarray:
    """Position ``[node]`` of every node within its owner's ascending owned list."""
    slots = np.empty(size, dtype=np.int64)
    for ids in owned_lists:
        slots[ids] = np.arange(ids.size)
    return slots


def _partition_edges(spec: EdgeSetSpec, owner, owned, parts: int) -> list[LocalEdges]:
    senders, receivers = spec.edge_index[0], spec.edge_index[1]
    sender_owner = owner[spec.sender_set]  # [sender node]
    sender_slot = _slots(owned[spec.sender_set], len(sender_owner))
    receiver_slot = _slots(owned[spec.receiver_set], len(owner[spec.receiver_set]))
    edge_rank = owner[spec.receiver_set][receivers]  # [edge]
    edge_ids = [np.flatnonzero(edge_rank == r) for r in range(parts)]
    halos = []
    for r, ids in enumerate(edge_ids):
        remote = np.unique(senders[ids][sender_owner[senders[ids]] != r])  # ascending
        halos.append(remote[np.argsort(sender_owner[remote], kind="stable")])  # by owner
    result = []
    for r, ids in enumerate(edge_ids):
        local_sender = sender_slot[senders[ids]]  # [edge], right for owned senders
        halo_slot = np.full(len(sender_owner), -1, dtype=np.int64)
        halo_slot[halos[r]] = owned[spec.sender_set][r].size + np.arange(halos[r].size)
        remote = sender_owner[senders[ids]] != r
        local_sender[remote] = halo_slot[senders[ids][remote]]
        sends = [halos[q][sender_owner[halos[q]] == r] for q in range(parts)]
        result.append(
            LocalEdges(
                sender_set=spec.sender_set,
                receiver_set=spec.receiver_set,
                edge_ids=ids,
                edge_index=np.stack([local_sender, receiver_slot[receivers[ids]]]),
                halo=halos[r],
                exchange=HaloPattern(
                    send_index=sender_slot[np.concatenate(sends)],
                    send_counts=tuple(int(s.size) for s in sends),
                    receive_counts=tuple(
                        int((sender_owner[halos[r]] == q).sum()) for q in range(parts)
                    ),
                ),
            )
        )
    return result
