"""Edge and node attributes: lengths, directions in the receiver's frame, area weights, masks.

Edges (GraphCast, Lam et al. 2023, supplement 3.2): the sender's position is rotated so that
the receiver sits at latitude 0, longitude 0 (the unit vector ``(1, 0, 0)``); the displacement
``rotated sender - (1, 0, 0)`` is then expressed the same way whatever the receiver's position
(components: radial, eastward, northward). ``edge_dirs`` is that displacement divided by the
longest displacement (chord) in the edge set; ``edge_length`` is the great-circle angle
``2 arcsin(chord / 2)`` divided by the longest one, so both lie in [0, 1].

Node areas (steradians, normalised to a mean of 1 as ``area_weight``):
- a regular latitude-longitude grid: exact cell areas ``dlon * (sin(lat_top) - sin(lat_bottom))``
  between bounds half-way to the neighbours, clamped at the poles (a pole row shares its polar
  cap); global grids sum to exactly ``4 pi``;
- a triangular mesh: a third of the solid angle of each adjacent triangle (barycentric dual);
- other node sets: spherical Voronoi cells (scipy ``SphericalVoronoi``; Caroli et al. 2009);
  coincident points share their cell equally. A node set that does not cover the sphere has
  unbounded Voronoi cells on its rim, which are clipped to 3x the median cell area.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import SphericalVoronoi

from wx_graphs.mesh import Mesh
from wx_graphs.sphere import chord_to_angle, triangle_solid_angles

logger = logging.getLogger(__name__)

EDGE_CHUNK = 1 << 18


def edge_displacements(
    sender_xyz: np.ndarray,
    receiver_latitudes: np.ndarray,
    receiver_longitudes: np.ndarray,
    edge_index: np.ndarray,
) -> np.ndarray:
    """Sender minus receiver ``[3, edge]`` (float64) after rotating the receiver to (1, 0, 0).

    Components: radial, eastward, northward in the receiver's frame. Component-major so that
    every step works on contiguous 1-D arrays.
    """
    lat = np.radians(receiver_latitudes)
    lon = np.radians(receiver_longitudes)
    cos_lat, sin_lat, cos_lon, sin_lon = np.cos(lat), np.sin(lat), np.cos(lon), np.sin(lon)
    sx, sy, sz = (np.ascontiguousarray(sender_xyz[:, axis]) for axis in range(3))
    out = np.empty((3, edge_index.shape[1]))
    for start in range(0, edge_index.shape[1], EDGE_CHUNK):
        senders = edge_index[0, start : start + EDGE_CHUNK]
        receivers = edge_index[1, start : start + EDGE_CHUNK]
        x, y, z = sx.take(senders), sy.take(senders), sz.take(senders)
        c_lon, s_lon = cos_lon.take(receivers), sin_lon.take(receivers)
        c_lat, s_lat = cos_lat.take(receivers), sin_lat.take(receivers)
        block = out[:, start : start + EDGE_CHUNK]
        # rotate by -lon about z, then by lat about y: the receiver goes to (1, 0, 0)
        x1 = x * c_lon
        x1 += y * s_lon
        np.multiply(y, c_lon, out=block[1])
        block[1] -= x * s_lon
        np.multiply(x1, c_lat, out=block[0])
        block[0] += z * s_lat
        block[0] -= 1.0
        np.multiply(z, c_lat, out=block[2])
        block[2] -= x1 * s_lat
    return out


def edge_attributes(
    sender_xyz: np.ndarray,
    receiver_latitudes: np.ndarray,
    receiver_longitudes: np.ndarray,
    edge_index: np.ndarray,
) -> dict[str, np.ndarray]:
    """``edge_length [edge, 1]`` and ``edge_dirs [edge, 3]`` (float32), each normalised to max 1."""
    displacement = edge_displacements(
        sender_xyz, receiver_latitudes, receiver_longitudes, edge_index
    )  # [3, edge]
    chord = np.sqrt(np.einsum("ce,ce->e", displacement, displacement))  # [edge]
    angle = chord_to_angle(chord)
    longest_chord = float(chord.max()) if chord.size else 1.0
    longest_angle = float(angle.max()) if angle.size else 1.0
    dirs = np.empty((edge_index.shape[1], 3), dtype=np.float32)
    np.multiply(displacement.T, 1.0 / (longest_chord or 1.0), out=dirs, casting="unsafe")
    length = (angle / (longest_angle or 1.0)).astype(np.float32)[:, None]
    return {"edge_length": length, "edge_dirs": dirs}


def regular_grid_areas(latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    """Exact areas ``[lat * lon]`` (steradians, row-major) of a regular grid's cells."""
    lat_bounds = np.radians(_bounds(np.asarray(latitudes, dtype=np.float64), wrap=False))
    lat_bounds = np.clip(lat_bounds, -np.pi / 2, np.pi / 2)
    band = np.abs(np.diff(np.sin(lat_bounds)))  # [lat]
    lon = np.asarray(longitudes, dtype=np.float64)
    width = np.abs(np.diff(np.radians(_bounds(lon, wrap=_is_global_circle(lon)))))  # [lon]
    return np.outer(band, width).ravel()


def _is_global_circle(longitudes: np.ndarray) -> bool:
    """Whether equally spaced longitudes go round the whole circle."""
    if len(longitudes) < 2:
        return False
    step = np.diff(longitudes)
    return bool(np.allclose(step, step[0]) and np.isclose(abs(step[0]) * len(longitudes), 360.0))


def _bounds(centres: np.ndarray, *, wrap: bool) -> np.ndarray:
    """Cell bounds ``[cell + 1]``: midpoints between centres, half a step beyond the ends."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])  # a single row: 1 degree wide
    middle = (centres[1:] + centres[:-1]) / 2
    if wrap:
        step = (centres[-1] - centres[-2] + centres[1] - centres[0]) / 2
        return np.concatenate([[centres[0] - step / 2], middle, [centres[-1] + step / 2]])
    first = centres[0] - (centres[1] - centres[0]) / 2
    last = centres[-1] + (centres[-1] - centres[-2]) / 2
    return np.concatenate([[first], middle, [last]])


def mesh_areas(mesh: Mesh) -> np.ndarray:
    """A third of the solid angle of every finest-level triangle around each node ``[node]``."""
    corners = mesh.xyz[mesh.faces]  # [face, corner, 3]
    third = triangle_solid_angles(corners[:, 0], corners[:, 1], corners[:, 2]) / 3.0
    return np.bincount(mesh.faces.ravel(), weights=np.repeat(third, 3), minlength=mesh.node_count)


def voronoi_areas(xyz: np.ndarray) -> np.ndarray:
    """Spherical Voronoi cell areas ``[node]``; coincident points share their cell."""
    inverse = coincident_groups(xyz)
    first = np.zeros(inverse.max() + 1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(xyz))[::-1]
    if len(first) < 4:
        return np.full(len(xyz), 4 * np.pi / len(xyz))
    cells = SphericalVoronoi(xyz[first], radius=1.0, threshold=1e-9).calculate_areas()
    median = float(np.median(cells))
    if cells.max() > 50 * median:
        logger.info("node set does not cover the sphere: clipping rim Voronoi cells")
        cells = np.minimum(cells, 3 * median)
    share = np.bincount(inverse)
    return cells[inverse] / share[inverse]


def coincident_groups(xyz: np.ndarray) -> np.ndarray:
    """For each point ``[node]``, the index of its group of coincident points (to 1e-12)."""
    rounded = np.round(xyz, 12) + 0.0  # + 0.0 turns -0.0 into 0.0
    order = np.lexsort(rounded.T[::-1])
    ordered = rounded[order]
    first = np.ones(len(xyz), dtype=bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(xyz), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return inverse


def normalised_area_weight(areas: np.ndarray) -> np.ndarray:
    """Areas scaled to a mean of 1 (float32), the usual loss weighting."""
    return (areas / areas.mean()).astype(np.float32)
