"""Icosahedral meshes and the multi-mesh against GraphCast's published counts."""

import numpy as np
import pytest

from wx_graphs.errors import RefinementError
from wx_graphs.icosahedral import (
    MAX_REFINEMENT,
    face_edges,
    icosahedral_hierarchy,
    multi_mesh_edges,
)
from wx_graphs.mesh import global_mesh

# Lam et al. (2023), GraphCast supplement table 3: nodes and directed edges per level
PUBLISHED = [
    (0, 12, 60),
    (1, 42, 240),
    (2, 162, 960),
    (3, 642, 3840),
    (4, 2562, 15360),
    (5, 10242, 61440),
    (6, 40962, 245760),
]


@pytest.fixture(scope="module")
def hierarchy():
    return icosahedral_hierarchy(6)


@pytest.mark.parametrize(("level", "nodes", "edges"), PUBLISHED)
def test_level_counts_match_graphcast(hierarchy, level, nodes, edges):
    faces = hierarchy.faces[level]
    assert len(np.unique(faces)) == nodes
    assert faces.max() == nodes - 1  # nested: level k uses the first nodes of the finest level
    assert face_edges(faces).shape == (2, edges)
    assert len(faces) == 20 * 4**level
    # Euler characteristic of a sphere: V - E + F = 2 (E undirected)
    assert nodes - edges // 2 + len(faces) == 2


def test_coarse_nodes_are_a_prefix_of_fine_nodes():
    coarse, fine = icosahedral_hierarchy(3), icosahedral_hierarchy(5)
    np.testing.assert_array_equal(coarse.vertices, fine.vertices[: len(coarse.vertices)])
    for level in range(4):
        np.testing.assert_array_equal(coarse.faces[level], fine.faces[level])


def test_vertices_on_unit_sphere_and_faces_outward(hierarchy):
    np.testing.assert_allclose(np.linalg.norm(hierarchy.vertices, axis=1), 1.0, atol=1e-15)
    for faces in hierarchy.faces:
        a, b, c = (hierarchy.vertices[faces[:, i]] for i in range(3))
        outward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c)
        assert (outward > 0).all()


def test_children_of_face_are_consecutive(hierarchy):
    parent, children = hierarchy.faces[2], hierarchy.faces[3]
    corners = children.reshape(-1, 4, 3)
    # the corner children keep the parent's corners in the parent's order
    np.testing.assert_array_equal(corners[:, 0, 0], parent[:, 0])
    np.testing.assert_array_equal(corners[:, 1, 1], parent[:, 1])
    np.testing.assert_array_equal(corners[:, 2, 2], parent[:, 2])


@pytest.mark.parametrize(("refinement", "expected"), [(5, 81_900), (6, 327_660)])
def test_multi_mesh_edge_count(hierarchy, refinement, expected):
    edges = multi_mesh_edges(hierarchy.faces[: refinement + 1])
    assert edges.shape == (2, expected)
    assert expected == sum(60 * 4**k for k in range(refinement + 1))
    keys = edges[1] * 10**6 + edges[0]
    assert len(np.unique(keys)) == expected  # no duplicates
    assert (edges[0] != edges[1]).all()  # no self loops
    reverse = np.sort(edges[0] * 10**6 + edges[1])
    np.testing.assert_array_equal(np.sort(keys), reverse)  # every edge in both directions
    assert (np.diff(keys) > 0).all()  # sorted by receiver, then sender


def test_multi_mesh_contains_each_level():
    mesh = global_mesh(3)
    edges = mesh.multi_mesh()
    keys = set((edges[1] * 10**6 + edges[0]).tolist())
    for faces in mesh.level_faces:
        level = face_edges(faces)
        assert set((level[1] * 10**6 + level[0]).tolist()) <= keys


@pytest.mark.parametrize("refinement", [-1, MAX_REFINEMENT + 1, 2.5, True])
def test_refinement_out_of_range(refinement):
    with pytest.raises(RefinementError, match="refinement"):
        icosahedral_hierarchy(refinement)
