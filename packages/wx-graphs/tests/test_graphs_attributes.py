"""Edge lengths and directions in the receiver's frame, node area weights, interior masks."""

import numpy as np
import pytest

from wx_graphs.attributes import (
    edge_attributes,
    edge_displacements,
    mesh_areas,
    regular_grid_areas,
    voronoi_areas,
)
from wx_graphs.inspection import great_circle_km
from wx_graphs.mesh import global_mesh, regional_mesh
from wx_graphs.regions import Area
from wx_graphs.sphere import EARTH_RADIUS_KM, lat_lon_to_xyz


def displacement(sender, receiver):
    """Displacement of one sender (lat, lon) seen from one receiver (lat, lon)."""
    xyz = lat_lon_to_xyz(np.array([sender[0]]), np.array([sender[1]]))
    index = np.array([[0], [0]])
    return edge_displacements(xyz, np.array([receiver[0]]), np.array([receiver[1]]), index)[:, 0]


@pytest.mark.parametrize("receiver", [(0.0, 0.0), (45.0, 100.0), (-70.0, 250.0), (89.0, 10.0)])
def test_directions_in_receiver_frame(receiver):
    step = np.radians(1.0)
    # one degree north of the receiver: only the northward (third) component and the radial one
    north = displacement((receiver[0] + 1.0, receiver[1]), receiver)
    np.testing.assert_allclose(north, [np.cos(step) - 1, 0.0, np.sin(step)], atol=1e-12)
    # east along the parallel: positive eastward component, no northward bias beyond curvature
    east = displacement((receiver[0], receiver[1] + 1.0), receiver)
    assert east[1] > 0 and abs(east[2]) < abs(east[1])
    # the displacement's length is the chord, whatever the receiver's position
    chord = np.linalg.norm(
        lat_lon_to_xyz(np.array([receiver[0] + 1.0]), np.array([receiver[1]]))
        - lat_lon_to_xyz(np.array([receiver[0]]), np.array([receiver[1]]))
    )
    np.testing.assert_allclose(np.linalg.norm(north), chord, rtol=1e-12)


def test_edge_attributes_normalised_by_the_longest_edge():
    mesh = global_mesh(2)
    edges = mesh.multi_mesh()
    lat = np.degrees(np.arcsin(mesh.xyz[:, 2]))
    lon = np.degrees(np.arctan2(mesh.xyz[:, 1], mesh.xyz[:, 0]))
    attributes = edge_attributes(mesh.xyz, lat, lon, edges)
    length, dirs = attributes["edge_length"], attributes["edge_dirs"]
    assert length.shape == (edges.shape[1], 1) and dirs.shape == (edges.shape[1], 3)
    assert length.dtype == np.float32 and dirs.dtype == np.float32
    km = great_circle_km(lat[edges[0]], lon[edges[0]], lat[edges[1]], lon[edges[1]])
    np.testing.assert_allclose(length[:, 0], km / km.max(), rtol=1e-5)
    assert np.isclose(np.linalg.norm(dirs, axis=1).max(), 1.0)
    # the longest multi-mesh edges are the level-0 ones: 63.4 degrees (arctan 2)
    np.testing.assert_allclose(km.max() / EARTH_RADIUS_KM, np.arctan(2.0), rtol=1e-9)


@pytest.mark.parametrize("poles", [True, False])
def test_regular_grid_areas_are_exact(poles):
    lat = np.linspace(90, -90, 181) if poles else np.arange(89.5, -90, -1.0)
    lon = np.arange(360.0)
    areas = regular_grid_areas(lat, lon).reshape(len(lat), len(lon))
    np.testing.assert_allclose(areas.sum(), 4 * np.pi, rtol=1e-13)
    if poles:  # the pole row shares the cap from 90 to 89.5 degrees
        cap = 2 * np.pi * (1 - np.sin(np.radians(89.5)))
        np.testing.assert_allclose(areas[0], cap / 360, rtol=1e-10)
    equator = np.argmin(np.abs(lat))
    band = np.sin(np.radians(lat[equator] + 0.5)) - np.sin(np.radians(lat[equator] - 0.5))
    np.testing.assert_allclose(areas[equator], band * np.radians(1.0), rtol=1e-12)


def test_regional_grid_areas_use_half_cells_beyond_the_edges():
    lat, lon = np.arange(75.0, 14.0, -2.5), np.arange(200.0, 331.0, 2.5)  # the NCEP domain
    areas = regular_grid_areas(lat, lon)
    total = np.radians(132.5) * (np.sin(np.radians(76.25)) - np.sin(np.radians(13.75)))
    np.testing.assert_allclose(areas.sum(), total, rtol=1e-12)


def test_mesh_areas_cover_the_sphere():
    areas = mesh_areas(global_mesh(4))
    np.testing.assert_allclose(areas.sum(), 4 * np.pi, rtol=1e-12)
    assert areas.max() / areas.min() < 1.6  # near-uniform icosahedral cells


def test_voronoi_areas_match_exact_cells_and_share_the_poles():
    lat, lon = np.linspace(90, -90, 37), np.arange(0, 360, 5.0)
    grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
    voronoi = voronoi_areas(lat_lon_to_xyz(grid_lat.ravel(), grid_lon.ravel()))
    exact = regular_grid_areas(lat, lon)
    np.testing.assert_allclose(voronoi.sum(), 4 * np.pi, rtol=1e-10)
    np.testing.assert_allclose(voronoi, exact, rtol=0.02)


def test_regional_mesh_interior_mask():
    area = Area(north=60, west=0, south=30, east=40)
    mesh = regional_mesh(4, area=area, margin_deg=5.0, key="hidden")
    lat = np.degrees(np.arcsin(mesh.xyz[:, 2]))
    lon = np.mod(np.degrees(np.arctan2(mesh.xyz[:, 1], mesh.xyz[:, 0])), 360)
    np.testing.assert_array_equal(mesh.interior, area.contains(lat, lon))
    assert mesh.interior.any() and not mesh.interior.all()
    assert ((lat > 24) & (lat < 66)).all()
