"""Meshes for the processor: global, restricted to an area (limited-area models) and stretched.

- Global: GraphCast's icosahedral multi-mesh at refinement ``r`` (see :mod:`icosahedral`).
- Regional: the nodes of level ``r`` inside an area grown by a margin; every level's faces whose
  three corners are kept (the same construction as the global multi-mesh, cut out).
- Stretched (a regional focus inside a global model, as the "stretched grid" of Nipen et al.
  2024, "Regional data-driven weather modeling with a global stretched-grid", arXiv:2409.02891):
  all triangles refined to ``refinement_low``; from there on only the triangles that meet the
  area grown by the margin (a corner within the margin, or a point of the area's sides inside
  them) are split again, up to ``refinement_high``. The finest triangulation, used by mesh-to-grid edges and area
  weights, is the spherical Delaunay triangulation (convex hull) of the kept nodes, which
  closes the T-junctions where refined and unrefined triangles meet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wx_graphs.errors import EmptyAreaError, RefinementError
from wx_graphs.icosahedral import (
    MeshHierarchy,
    check_refinement,
    icosahedral_hierarchy,
    multi_mesh_edges,
    outward_hull_faces,
    triangle_sides,
)
from wx_graphs.locate import containing_faces
from wx_graphs.regions import Area
from wx_graphs.sphere import chord_to_angle, lat_lon_to_xyz, xyz_to_lat_lon


@dataclass(frozen=True)
class Mesh:
    """A triangular mesh on the unit sphere with its refinement levels."""

    xyz: np.ndarray  # [node, 3] float64 unit vectors
    level_faces: tuple[np.ndarray, ...]  # per level: [face, 3] int64 into xyz
    faces: np.ndarray  # [face, 3] finest triangulation, counter-clockwise from outside
    interior: np.ndarray | None = None  # [node] bool, regional meshes only

    @property
    def node_count(self) -> int:
        return len(self.xyz)

    def multi_mesh(self) -> np.ndarray:
        """Edges ``[2, edge]`` of all levels on this mesh's nodes (GraphCast multi-mesh)."""
        return multi_mesh_edges(self.level_faces)

    def max_edge_chord(self) -> float:
        """The longest side of the finest triangulation, as a chord on the unit sphere."""
        sides = triangle_sides(self.faces)
        return float(np.linalg.norm(self.xyz[sides[0]] - self.xyz[sides[1]], axis=1).max())


def global_mesh(refinement: int) -> Mesh:
    """The icosahedral multi-mesh on the whole sphere."""
    hierarchy = icosahedral_hierarchy(refinement)
    return Mesh(xyz=hierarchy.vertices, level_faces=hierarchy.faces, faces=hierarchy.faces[-1])


def regional_mesh(refinement: int, *, area: Area, margin_deg: float, key: str) -> Mesh:
    """The level-``refinement`` nodes inside ``area`` grown by ``margin_deg``, with their levels."""
    hierarchy = icosahedral_hierarchy(refinement)
    latitudes, longitudes = xyz_to_lat_lon(hierarchy.vertices)
    keep = area.within(latitudes, longitudes, margin_deg)
    if not keep.any():
        raise EmptyAreaError(
            f"{key}: no mesh node of refinement {refinement} lies in area {area.as_list()} "
            f"with margin {margin_deg} degrees; enlarge the area or refine the mesh"
        )
    level_faces = tuple(faces[keep[faces].all(axis=1)] for faces in hierarchy.faces)
    mesh = _subset(hierarchy.vertices, keep, level_faces, level_faces[-1])
    interior = area.contains(latitudes[keep], longitudes[keep])
    return Mesh(xyz=mesh.xyz, level_faces=mesh.level_faces, faces=mesh.faces, interior=interior)


def stretched_mesh(
    refinement_low: int, refinement_high: int, *, area: Area, margin_deg: float, key: str
) -> Mesh:
    """A global mesh at ``refinement_low``, refined to ``refinement_high`` over ``area``."""
    low = check_refinement(refinement_low, key=f"{key}.refinement_low")
    high = check_refinement(refinement_high, key=f"{key}.refinement_high")
    if high <= low:
        raise RefinementError(
            f"{key}: refinement_high ({high}) must be greater than refinement_low ({low})"
        )
    hierarchy = icosahedral_hierarchy(high)
    active = _refined_faces(hierarchy, low, area, margin_deg)
    if not active[low + 1].any():
        raise EmptyAreaError(
            f"{key}: no triangle of refinement {low} intersects area {area.as_list()}"
        )
    level_faces = tuple(faces[mask] for faces, mask in zip(hierarchy.faces, active, strict=True))
    keep = np.zeros(len(hierarchy.vertices), dtype=bool)
    for faces in level_faces:
        keep[faces.ravel()] = True
    partial = _subset(hierarchy.vertices, keep, level_faces, np.zeros((0, 3), dtype=np.int64))
    return Mesh(
        xyz=partial.xyz,
        level_faces=partial.level_faces,
        faces=outward_hull_faces(partial.xyz),
    )


def _refined_faces(
    hierarchy: MeshHierarchy, low: int, area: Area, margin_deg: float
) -> list[np.ndarray]:
    """Per level, which faces exist: all up to ``low``, then the children of faces meeting the area.

    A face meets the area grown by the margin when one of its corners lies within the margin of
    the area, or when a point of the area's sides (sampled every quarter of the level's longest
    edge) lies in the face: the second catches faces larger than the area itself.
    """
    vertices = hierarchy.vertices
    latitudes, longitudes = xyz_to_lat_lon(vertices)
    in_zone = area.within(latitudes, longitudes, margin_deg)
    active = [np.ones(len(faces), dtype=bool) for faces in hierarchy.faces[: low + 1]]
    for level in range(low, hierarchy.refinement):
        faces = hierarchy.faces[level]
        sides = triangle_sides(faces)
        chord = np.linalg.norm(vertices[sides[0]] - vertices[sides[1]], axis=1).max()
        probe_lat, probe_lon = area.boundary_points(np.degrees(chord_to_angle(chord)) / 4)
        holder = containing_faces(vertices, faces, lat_lon_to_xyz(probe_lat, probe_lon))
        meets = in_zone[faces].any(axis=1)
        meets[holder[holder >= 0]] = True
        active.append(np.repeat(active[level] & meets, 4))
    return active


def _subset(
    xyz: np.ndarray, keep: np.ndarray, level_faces: tuple[np.ndarray, ...], faces: np.ndarray
) -> Mesh:
    """The mesh on the kept nodes (order preserved), with face indices renumbered."""
    new_index = np.full(len(xyz), -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    return Mesh(
        xyz=xyz[keep],
        level_faces=tuple(new_index[level] for level in level_faces),
        faces=new_index[faces],
    )
