"""Edge builders between node sets: radius, k nearest neighbours and containing triangle.

- Radius (GraphCast grid-to-mesh, Lam et al. 2023, supplement 3.2): a grid node sends to every
  mesh node within a chord distance ``r`` on the unit sphere (GraphCast: ``r`` = 0.6 x the
  longest edge of the finest mesh). Pairs come from a KD-tree (scipy ``cKDTree``) on 3-D unit
  vectors, queried from the larger node set with an adaptive ``k`` bounded by ``r``, so no
  Python loop runs over nodes.
- Containing triangle (GraphCast mesh-to-grid, supplement 3.4): each grid node receives from the
  three corners of the finest mesh triangle holding it (found by :mod:`wx_graphs.locate`).
- k nearest neighbours: each receiver takes its ``k`` nearest senders (or each sender its ``k``
  nearest receivers).

Every builder returns ``edge_index [2, edge]`` int64 (row 0 sender, row 1 receiver) sorted by
receiver, then sender.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from wx_graphs.locate import CHUNK, containing_faces, workers
from wx_graphs.mesh import Mesh


def sorted_edges(senders: np.ndarray, receivers: np.ndarray, sender_count: int) -> np.ndarray:
    """``[2, edge]`` int64 sorted by receiver, then sender."""
    keys = np.sort(receivers.astype(np.int64) * sender_count + senders)
    return np.stack([keys % sender_count, keys // sender_count])


def pairs_within(tree_xyz: np.ndarray, query_xyz: np.ndarray, radius: float) -> np.ndarray:
    """All pairs ``[2, pair]`` (tree index, query index) of points within chord ``radius``."""
    tree = cKDTree(tree_xyz)
    found: list[np.ndarray] = []
    pending = np.arange(len(query_xyz))
    k = 4
    bound = radius * (1.0 + 1e-12)  # include pairs exactly at the radius
    while pending.size:
        k = min(k, len(tree_xyz))
        still: list[np.ndarray] = []
        for start in range(0, len(pending), CHUNK):
            rows = pending[start : start + CHUNK]
            distance, index = tree.query(
                query_xyz[rows], k=k, distance_upper_bound=bound, workers=workers()
            )
            distance = distance.reshape(len(rows), k)  # [query, k]
            index = index.reshape(len(rows), k)
            full = np.isfinite(distance[:, -1]) & (k < len(tree_xyz))
            hit = np.isfinite(distance[~full])
            queries = np.broadcast_to(rows[~full, None], hit.shape)[hit]
            found.append(np.stack([index[~full][hit], queries]))
            still.append(rows[full])
        pending = np.concatenate(still)
        k *= 4
    return np.concatenate(found, axis=1) if found else np.zeros((2, 0), dtype=np.int64)


def radius_edges(sender_xyz: np.ndarray, receiver_xyz: np.ndarray, radius: float) -> np.ndarray:
    """Every sender-receiver pair within chord ``radius`` (unit sphere)."""
    if len(sender_xyz) >= len(receiver_xyz):
        receivers, senders = pairs_within(receiver_xyz, sender_xyz, radius)
    else:
        senders, receivers = pairs_within(sender_xyz, receiver_xyz, radius)
    return sorted_edges(senders, receivers, len(sender_xyz))


def knn_edges(
    sender_xyz: np.ndarray, receiver_xyz: np.ndarray, k: int, *, per: str = "receiver"
) -> np.ndarray:
    """``k`` nearest senders of each receiver (``per="receiver"``) or receivers of each sender."""
    if per == "receiver":
        tree, queries = sender_xyz, receiver_xyz
    elif per == "sender":
        tree, queries = receiver_xyz, sender_xyz
    else:
        raise ValueError(f"knn: per={per!r}: expected 'receiver' or 'sender'")
    k = min(k, len(tree))
    _, index = cKDTree(tree).query(queries, k=k, workers=workers())
    index = index.reshape(len(queries), k)  # [query, k]
    near = index.ravel()
    query = np.repeat(np.arange(len(queries)), k)
    if per == "receiver":
        return sorted_edges(near, query, len(sender_xyz))
    return sorted_edges(query, near, len(sender_xyz))


def triangle_edges(mesh: Mesh, grid_xyz: np.ndarray) -> np.ndarray:
    """Mesh-to-grid edges: the three corners of the face holding each grid node."""
    holder = containing_faces(mesh.xyz, mesh.faces, grid_xyz)
    covered = np.flatnonzero(holder >= 0)
    corners = np.sort(mesh.faces, axis=1)  # each face's corners ascending, sorted once
    senders = corners[holder[covered]].ravel()  # [grid * 3]
    receivers = np.repeat(covered, 3)
    return np.stack([senders, receivers]).astype(np.int64)
