"""Grid-to-mesh, mesh-to-grid, k-nearest and radius edges, checked by brute force and counts."""

import numpy as np

from wx_graphs.connectivity import knn_edges, radius_edges, triangle_edges
from wx_graphs.locate import containing_faces
from wx_graphs.mesh import global_mesh
from wx_graphs.sphere import lat_lon_to_xyz


def regular_grid_xyz(resolution: float, *, poles: bool = True) -> np.ndarray:
    rows = round(180 / resolution)
    lat = np.linspace(90, -90, rows + 1) if poles else 90 - resolution * (np.arange(rows) + 0.5)
    lon = resolution * np.arange(round(360 / resolution))
    grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
    return lat_lon_to_xyz(grid_lat.ravel(), grid_lon.ravel())


def edge_keys(edge_index: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(edge_index[0].tolist(), edge_index[1].tolist(), strict=True))


def test_radius_edges_equal_brute_force():
    grid, mesh = regular_grid_xyz(7.5), global_mesh(2)
    radius = 0.6 * mesh.max_edge_chord()
    edges = radius_edges(grid, mesh.xyz, radius)
    distance = np.linalg.norm(grid[:, None, :] - mesh.xyz[None, :, :], axis=2)
    senders, receivers = np.nonzero(distance <= radius)
    assert edge_keys(edges) == edge_keys(np.stack([senders, receivers]))
    assert edges.shape[1] == len(senders)
    keys = edges[1] * len(grid) + edges[0]
    assert (np.diff(keys) > 0).all()


def test_radius_edges_from_the_smaller_side_agree():
    mesh_xyz, grid = global_mesh(2).xyz, regular_grid_xyz(10.0)
    forward = radius_edges(grid, mesh_xyz, 0.3)
    backward = radius_edges(mesh_xyz, grid, 0.3)
    assert edge_keys(forward) == edge_keys(backward[::-1])


def test_radius_edges_many_neighbours_near_the_poles():
    # 1440 copies of each pole: the adaptive k has to grow well beyond its start
    grid = regular_grid_xyz(0.25)[: 1440 * 3]
    pole = lat_lon_to_xyz(np.array([90.0]), np.array([0.0]))
    edges = radius_edges(grid, pole, 0.01)
    expected = int((np.linalg.norm(grid - pole, axis=1) <= 0.01).sum())
    assert edges.shape[1] == expected >= 1440


def test_knn_edges_equal_brute_force():
    grid, mesh = regular_grid_xyz(15.0), global_mesh(1)
    edges = knn_edges(mesh.xyz, grid, 3)
    assert edges.shape[1] == 3 * len(grid)
    distance = np.linalg.norm(grid[:, None, :] - mesh.xyz[None, :, :], axis=2)
    for receiver in range(0, len(grid), 17):
        senders = edges[0, edges[1] == receiver]
        nearest = np.sort(distance[receiver])[:3]
        np.testing.assert_allclose(np.sort(distance[receiver, senders]), nearest)


def test_knn_per_sender_gives_each_sender_k_edges():
    grid, mesh = regular_grid_xyz(15.0), global_mesh(1)
    edges = knn_edges(grid, mesh.xyz, 2, per="sender")
    np.testing.assert_array_equal(np.bincount(edges[0], minlength=len(grid)), 2)


def test_mesh2grid_three_edges_per_grid_point_at_1_degree():
    grid, mesh = regular_grid_xyz(1.0), global_mesh(5)
    edges = triangle_edges(mesh, grid)
    assert edges.shape == (2, 195_480)  # GraphCast: 3 x 181 x 360
    np.testing.assert_array_equal(np.bincount(edges[1]), 3)


def test_containing_face_holds_the_point():
    grid, mesh = regular_grid_xyz(2.0, poles=False), global_mesh(4)
    holder = containing_faces(mesh.xyz, mesh.faces, grid)
    assert (holder >= 0).all()
    corners = mesh.xyz[mesh.faces[holder]]  # [point, corner, 3]
    normals = np.cross(corners, corners[:, [1, 2, 0]])
    sides = np.einsum("pcj,pj->pc", normals, grid)
    assert (sides >= -1e-12).all()
    # brute force on a sample: no other face is nearer to holding the point
    for point in range(0, len(grid), 997):
        all_normals = np.cross(mesh.xyz[mesh.faces], mesh.xyz[mesh.faces[:, [1, 2, 0]]])
        inside = (np.einsum("fcj,j->fc", all_normals, grid[point]) >= -1e-12).all(axis=1)
        assert holder[point] in np.flatnonzero(inside)


def test_grid_points_on_mesh_vertices_and_edges_are_held():
    mesh = global_mesh(3)
    corners = mesh.xyz[mesh.faces[:50]]
    midpoints = corners[:, 0] + corners[:, 1]
    points = np.concatenate([mesh.xyz, midpoints / np.linalg.norm(midpoints, axis=1)[:, None]])
    assert (containing_faces(mesh.xyz, mesh.faces, points) >= 0).all()
