"""Point location on a spherical triangulation: which triangle holds each point.

Candidate triangles are the nearest triangle centroids (scipy ``cKDTree`` on 3-D unit vectors)
within the largest centroid-to-corner distance, so a triangle farther away cannot hold the
point. A point ``p`` is inside the counter-clockwise spherical triangle ``(a, b, c)`` when
``p.(a x b)``, ``p.(b x c)`` and ``p.(c x a)`` are all non-negative; the nearest candidate that
holds ``p`` wins ties on shared sides. One nearest candidate settles ~95% of points on a
near-uniform mesh; the rest are retried with 8 and then 64 times more candidates.
"""

from __future__ import annotations

import os

import numpy as np
from scipy.spatial import cKDTree

CHUNK = 1 << 18
_INSIDE_TOLERANCE = -1e-12


def workers() -> int:
    """Threads for KD-tree queries: ``$WX_GRAPHS_WORKERS``, else all cores (-1)."""
    return int(os.environ.get("WX_GRAPHS_WORKERS", "-1"))


def containing_faces(xyz: np.ndarray, faces: np.ndarray, points_xyz: np.ndarray) -> np.ndarray:
    """Index of the face ``[face, 3]`` (into ``xyz``) holding each point; -1 where none does."""
    if len(faces) == 0:
        return np.full(len(points_xyz), -1, dtype=np.int64)
    corners = xyz[faces]  # [face, corner, 3]
    centroids = corners.sum(axis=1)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    reach = float(np.linalg.norm(corners - centroids[:, None, :], axis=2).max()) * (1 + 1e-9)
    side_normals = np.cross(corners, corners[:, [1, 2, 0]])  # [face, side, 3]
    tree = cKDTree(centroids)
    holder = np.full(len(points_xyz), -1, dtype=np.int64)
    pending = np.arange(len(points_xyz))
    k = 1
    while pending.size:
        k = min(k, len(faces))
        still = []
        for start in range(0, len(pending), CHUNK):
            rows = pending[start : start + CHUNK]
            still.append(_first_holder(tree, side_normals, points_xyz, rows, k, reach, holder))
        pending = np.concatenate(still)
        if k == len(faces):
            break
        k *= 8
    return holder


def _first_holder(tree, side_normals, points_xyz, rows, k, reach, holder) -> np.ndarray:
    """Fill ``holder[rows]`` from the ``k`` nearest candidates; return rows to retry with more."""
    distance, candidates = tree.query(
        points_xyz[rows], k=k, distance_upper_bound=reach, workers=workers()
    )
    distance = distance.reshape(len(rows), k)  # [point, k]
    candidates = candidates.reshape(len(rows), k)
    valid = np.isfinite(distance)
    safe = np.where(valid, candidates, 0)
    sides = np.einsum("pksj,pj->pks", side_normals[safe], points_xyz[rows])  # [point, k, side]
    inside = valid & (sides >= _INSIDE_TOLERANCE).all(axis=2)
    found = inside.any(axis=1)
    holder[rows[found]] = safe[found, np.argmax(inside[found], axis=1)]
    # more candidates may exist only where all k were within reach
    return rows[~found & valid[:, -1]]
