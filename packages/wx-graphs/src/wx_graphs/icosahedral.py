"""Icosahedral meshes refined by repeated 4-way splitting of triangles (GraphCast's multi-mesh).

Lam et al. (2023), "Learning skillful medium-range global weather forecasting", Science 382
(GraphCast), supplement section 3.1: start from a regular icosahedron (12 nodes, 20 faces),
split every triangle into four at its edge midpoints and project the midpoints onto the unit
sphere, ``r`` times. Level ``r`` has ``10 * 4**r + 2`` nodes, ``20 * 4**r`` faces and
``60 * 4**r`` directed edges. The icosahedron is rotated about the y axis by
``pi/2 - arcsin(phi / sqrt(3))`` (half the supplement of the dihedral angle) as in GraphCast, so
grid-to-mesh edge counts match the published ones.

Node order is nested: the nodes of level ``k`` are the first ``10 * 4**k + 2`` nodes of every
finer level, so the edges of all levels can be written on the finest level's nodes (the
multi-mesh). The four children of face ``f`` of level ``k`` are faces ``4f .. 4f+3`` of level
``k + 1``. Faces are counter-clockwise seen from outside the sphere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from wx_graphs.errors import RefinementError
from wx_graphs.indexing import unique_keys, unique_with_inverse
from wx_graphs.sphere import rotation_about_y

MAX_REFINEMENT = 9
GOLDEN_RATIO = (1.0 + np.sqrt(5.0)) / 2.0


@dataclass(frozen=True)
class MeshHierarchy:
    """All refinement levels 0..r of an icosahedral mesh on the finest level's nodes."""

    vertices: np.ndarray  # [node, 3] float64 unit vectors (finest level)
    faces: tuple[np.ndarray, ...]  # per level: [face, 3] int64, counter-clockwise from outside

    @property
    def refinement(self) -> int:
        return len(self.faces) - 1

    def node_count(self, level: int) -> int:
        return 10 * 4**level + 2


def check_refinement(refinement: object, *, key: str, low: int = 0) -> int:
    """``refinement`` as an int in ``low..MAX_REFINEMENT``; :class:`RefinementError` otherwise."""
    if isinstance(refinement, bool) or not isinstance(refinement, int | np.integer):
        raise RefinementError(f"{key}: refinement {refinement!r} must be an integer")
    if not low <= refinement <= MAX_REFINEMENT:
        raise RefinementError(
            f"{key}: refinement {refinement} is out of range: expected {low}..{MAX_REFINEMENT} "
            f"(level {MAX_REFINEMENT} already has {10 * 4**MAX_REFINEMENT + 2:,} nodes)"
        )
    return int(refinement)


def icosahedron() -> tuple[np.ndarray, np.ndarray]:
    """The rotated regular icosahedron: unit vertices ``[12, 3]`` and outward faces ``[20, 3]``."""
    phi = GOLDEN_RATIO
    corners = []
    for first in (1.0, -1.0):
        for second in (phi, -phi):
            corners += [(0.0, first, second), (first, second, 0.0), (second, 0.0, first)]
    vertices = np.array(corners) / np.hypot(1.0, phi)
    angle = np.pi / 2 - np.arcsin(phi / np.sqrt(3.0))
    vertices = vertices @ rotation_about_y(angle)  # row vectors: rotates by -angle about y
    return vertices, outward_hull_faces(vertices)


def outward_hull_faces(vertices: np.ndarray) -> np.ndarray:
    """Triangles ``[face, 3]`` of the convex hull of points on the sphere, counter-clockwise.

    For points on a sphere the hull is their spherical Delaunay triangulation. Faces are put in
    a canonical order (smallest index first, then sorted) so the result never depends on qhull's
    internal order.
    """
    hull = ConvexHull(vertices)
    if len(hull.coplanar):
        raise ValueError(f"{len(hull.coplanar)} mesh nodes are not on the hull (duplicates?)")
    faces = hull.simplices.astype(np.int64)
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c) < 0
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return canonical_faces(faces)


def canonical_faces(faces: np.ndarray) -> np.ndarray:
    """Faces rotated (orientation kept) to start at their smallest index, rows sorted."""
    shift = np.argmin(faces, axis=1)
    rows = np.arange(len(faces))[:, None]
    rotated = faces[rows, (shift[:, None] + np.arange(3)) % 3]
    return rotated[np.lexsort(rotated.T[::-1])]


def split_faces(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One 4-way split: new vertices appended after the old ones, children of face f at 4f..4f+3."""
    count = len(vertices)
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    ends = np.stack([np.stack([a, b], -1), np.stack([b, c], -1), np.stack([c, a], -1)], 1)
    low, high = ends.min(-1), ends.max(-1)  # [face, 3] each
    keys, inverse = unique_with_inverse((low * count + high).ravel())
    midpoints = vertices[keys // count] + vertices[keys % count]
    midpoints /= np.linalg.norm(midpoints, axis=1, keepdims=True)
    middle = count + inverse.reshape(-1, 3)  # [face, 3]: ab, bc, ca
    ab, bc, ca = middle[:, 0], middle[:, 1], middle[:, 2]
    children = np.stack(
        [
            np.stack([a, ab, ca], -1),
            np.stack([ab, b, bc], -1),
            np.stack([ca, bc, c], -1),
            np.stack([ab, bc, ca], -1),
        ],
        axis=1,
    )  # [face, child, corner]
    return np.concatenate([vertices, midpoints]), children.reshape(-1, 3)


def icosahedral_hierarchy(refinement: int) -> MeshHierarchy:
    """Levels 0..``refinement`` of the icosahedral mesh."""
    refinement = check_refinement(refinement, key="icosahedral mesh")
    vertices, faces = icosahedron()
    levels = [faces]
    for _ in range(refinement):
        vertices, faces = split_faces(vertices, faces)
        levels.append(faces)
    return MeshHierarchy(vertices=vertices, faces=tuple(levels))


def face_edges(faces: np.ndarray) -> np.ndarray:
    """Directed edges ``[2, edge]`` (row 0 sender) of triangles, both directions, once each.

    Sorted by receiver, then sender. Works for open surfaces too (a boundary edge belongs to one
    face only, so both directions are added explicitly rather than relying on orientation).
    """
    return merge_edges([triangle_sides(faces)])


def triangle_sides(faces: np.ndarray) -> np.ndarray:
    """The three sides ``[2, 3 * face]`` of each face in both directions (with repeats)."""
    senders = faces.ravel()
    receivers = faces[:, [1, 2, 0]].ravel()
    return np.stack([np.concatenate([senders, receivers]), np.concatenate([receivers, senders])])


def merge_edges(parts: list[np.ndarray]) -> np.ndarray:
    """Union ``[2, edge]`` of edge lists without duplicates, sorted by receiver then sender."""
    edges = np.concatenate(parts, axis=1)
    if edges.shape[1] == 0:
        return np.zeros((2, 0), dtype=np.int64)
    count = int(edges.max()) + 1
    keys = unique_keys(edges[1] * count + edges[0])
    return np.stack([keys % count, keys // count]).astype(np.int64)


def multi_mesh_edges(level_faces: tuple[np.ndarray, ...] | list[np.ndarray]) -> np.ndarray:
    """GraphCast multi-mesh: the edges of every level on the finest nodes, without duplicates."""
    return merge_edges([triangle_sides(faces) for faces in level_faces])
