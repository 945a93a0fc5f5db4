"""Node sets from recipe entries: grids (regular, coordinate file, dataset store) and meshes
(icosahedral, regional, stretched), each with its area weights and optional interior mask.

A recipe entry names its ``kind`` and that kind's keys, e.g. ``{kind: regular, resolution:
0.25, poles: true}`` or ``{kind: icosahedral, refinement: 6}``; see ``KIND_KEYS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from wx_graphs.attributes import (
    mesh_areas,
    normalised_area_weight,
    regular_grid_areas,
    voronoi_areas,
)
from wx_graphs.coordinates import read_coordinate_file, read_dataset_coordinates
from wx_graphs.errors import EmptyAreaError, GraphRecipeError
from wx_graphs.graph import NodeSet
from wx_graphs.icosahedral import check_refinement
from wx_graphs.mesh import Mesh, global_mesh, regional_mesh, stretched_mesh
from wx_graphs.recipe_keys import check_keys, number, optional_area
from wx_graphs.regions import Area
from wx_graphs.sphere import check_coordinates, lat_lon_to_xyz, xyz_to_lat_lon

COMMON_KEYS = {"kind", "attributes"}
KIND_KEYS = {
    "regular": {"resolution", "poles", "area"},
    "file": {"path", "latitude", "longitude", "area"},
    "dataset": {"path", "area"},
    "icosahedral": {"refinement", "area", "margin_deg"},
    "stretched": {"refinement_low", "refinement_high", "area", "margin_deg"},
}
MESH_KINDS = ("icosahedral", "stretched")


@dataclass(frozen=True)
class BuiltNodes:
    """A node set while the graph is being built: coordinates plus what builders need."""

    latitudes: np.ndarray  # [node] float64 degrees
    longitudes: np.ndarray  # [node] float64 degrees
    mesh: Mesh | None = None  # the triangulation, for mesh node sets
    grid_axes: tuple[np.ndarray, np.ndarray] | None = None  # ([lat], [lon]) of a regular grid
    interior: np.ndarray | None = None  # [node] bool for regional meshes

    @cached_property
    def xyz(self) -> np.ndarray:  # [node, 3]
        if self.mesh is not None:
            return self.mesh.xyz
        return lat_lon_to_xyz(self.latitudes, self.longitudes)

    @property
    def is_mesh(self) -> bool:
        return self.mesh is not None

    @property
    def count(self) -> int:
        return len(self.latitudes)


def build_nodes(name: str, spec: Any, *, base_dir: Path) -> BuiltNodes:
    """The node set ``name`` described by the recipe entry ``spec``."""
    key = f"nodes.{name}"
    if not isinstance(spec, dict) or "kind" not in spec:
        raise GraphRecipeError(f"{key}: expected a mapping with a 'kind' ({', '.join(KIND_KEYS)})")
    kind = spec["kind"]
    if kind not in KIND_KEYS:
        raise GraphRecipeError(f"{key}.kind: {kind!r} is not one of {', '.join(KIND_KEYS)}")
    check_keys(spec, COMMON_KEYS | KIND_KEYS[kind], key=key)
    if kind in MESH_KINDS:
        return _mesh_nodes(kind, spec, key)
    latitudes, longitudes = _grid_coordinates(kind, spec, key, base_dir)
    check_coordinates(latitudes, longitudes, source=key)
    area = optional_area(spec, key=key)
    if area is not None:
        inside = area.contains(latitudes, longitudes)
        if not inside.any():
            raise EmptyAreaError(f"{key}: area {area.as_list()} contains none of its nodes")
        latitudes, longitudes = latitudes[inside], longitudes[inside]
    return BuiltNodes(
        latitudes=latitudes,
        longitudes=longitudes,
        grid_axes=regular_axes(latitudes, longitudes),
    )


def _grid_coordinates(kind: str, spec: dict, key: str, base_dir: Path):
    if kind == "regular":
        return regular_coordinates(spec, key=key)
    if "path" not in spec:
        raise GraphRecipeError(f"{key}: kind {kind!r} needs a 'path'")
    location = str(spec["path"])
    if "://" not in location and not Path(location).is_absolute():
        location = str(base_dir / location)  # relative to the recipe's folder
    if kind == "file":
        return read_coordinate_file(
            Path(location), latitude=spec.get("latitude"), longitude=spec.get("longitude")
        )
    return read_dataset_coordinates(location)


def regular_coordinates(spec: dict, *, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Points of a global regular grid, north to south, longitudes from 0 east, row-major."""
    resolution = spec.get("resolution")
    steps = resolution if isinstance(resolution, list) else [resolution, resolution]
    if len(steps) != 2:
        raise GraphRecipeError(f"{key}.resolution: expected a number or [dlat, dlon]")
    dlat = number(steps[0], key=f"{key}.resolution", low=0.0, strict=True)
    dlon = number(steps[1], key=f"{key}.resolution", low=0.0, strict=True)
    rows, columns = 180.0 / dlat, 360.0 / dlon
    if not (np.isclose(rows, round(rows)) and np.isclose(columns, round(columns))):
        raise GraphRecipeError(
            f"{key}.resolution: {resolution!r} must divide 180 (latitude) and 360 (longitude)"
        )
    poles = spec.get("poles", True)
    if not isinstance(poles, bool):
        raise GraphRecipeError(f"{key}.poles: expected true or false, got {poles!r}")
    if poles:
        latitudes = np.linspace(90.0, -90.0, round(rows) + 1)
    else:
        latitudes = 90.0 - dlat / 2 - dlat * np.arange(round(rows))
    longitudes = dlon * np.arange(round(columns))
    grid_lat, grid_lon = np.meshgrid(latitudes, longitudes, indexing="ij")
    return grid_lat.ravel(), grid_lon.ravel()


def regular_axes(
    latitudes: np.ndarray, longitudes: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The 1-D axes if the points form a row-major regular grid (latitude slowest), else None."""
    count = len(latitudes)
    changes = np.flatnonzero(latitudes[1:] != latitudes[:-1])
    columns = int(changes[0]) + 1 if changes.size else count
    if count % columns:
        return None
    rows = count // columns
    grid_lat = latitudes.reshape(rows, columns)
    grid_lon = longitudes.reshape(rows, columns)
    if not ((grid_lat == grid_lat[:, :1]).all() and (grid_lon == grid_lon[:1]).all()):
        return None
    lat_axis, lon_axis = grid_lat[:, 0], grid_lon[0]
    for axis in (lat_axis, np.unwrap(lon_axis, period=360.0)):
        step = np.diff(axis)
        if axis.size > 1 and not ((step > 0).all() or (step < 0).all()):
            return None
    return lat_axis, lon_axis


def _mesh_nodes(kind: str, spec: dict, key: str) -> BuiltNodes:
    area = optional_area(spec, key=key)
    margin = number(spec.get("margin_deg", 0.0), key=f"{key}.margin_deg", low=0.0)
    if kind == "stretched":
        if area is None:
            raise GraphRecipeError(f"{key}: a stretched mesh needs an 'area' to refine")
        for required in ("refinement_low", "refinement_high"):
            if required not in spec:
                raise GraphRecipeError(f"{key}: a stretched mesh needs {required!r}")
        mesh = stretched_mesh(
            spec["refinement_low"], spec["refinement_high"], area=area, margin_deg=margin, key=key
        )
    else:
        if "refinement" not in spec:
            raise GraphRecipeError(f"{key}: an icosahedral mesh needs a 'refinement'")
        refinement = check_refinement(spec["refinement"], key=f"{key}.refinement")
        if area is None:
            mesh = global_mesh(refinement)
        else:
            mesh = regional_mesh(refinement, area=area, margin_deg=margin, key=key)
    latitudes, longitudes = xyz_to_lat_lon(mesh.xyz)
    return BuiltNodes(latitudes=latitudes, longitudes=longitudes, mesh=mesh, interior=mesh.interior)


AREA_METHODS = ("auto", "regular", "mesh", "voronoi")


def node_attributes(name: str, nodes: BuiltNodes, spec: dict) -> dict[str, np.ndarray]:
    """``area_weight`` (unless disabled) and ``interior_mask`` (regional meshes, or by area)."""
    key = f"nodes.{name}.attributes"
    requested = spec.get("attributes") or {}
    if not isinstance(requested, dict):
        raise GraphRecipeError(f"{key}: expected a mapping of attribute names to options")
    check_keys(requested, {"area_weight", "interior_mask"}, key=key)
    attributes: dict[str, np.ndarray] = {}
    area_spec = requested.get("area_weight", True)
    if area_spec is not False:
        method = area_spec.get("method", "auto") if isinstance(area_spec, dict) else "auto"
        attributes["area_weight"] = normalised_area_weight(
            node_areas(nodes, method, key=f"{key}.area_weight")
        )
    if "interior_mask" in requested:
        mask_spec = requested["interior_mask"]
        if not isinstance(mask_spec, dict) or "area" not in mask_spec:
            raise GraphRecipeError(f"{key}.interior_mask: expected {{area: [N, W, S, E]}}")
        area = Area.parse(mask_spec["area"], key=f"{key}.interior_mask.area")
        attributes["interior_mask"] = area.contains(nodes.latitudes, nodes.longitudes)
    elif nodes.interior is not None:
        attributes["interior_mask"] = nodes.interior
    return attributes


def node_areas(nodes: BuiltNodes, method: str, *, key: str) -> np.ndarray:
    """Spherical area (steradians) each node represents, by ``method`` or the best available."""
    if method not in AREA_METHODS:
        raise GraphRecipeError(f"{key}.method: {method!r} is not one of {', '.join(AREA_METHODS)}")
    if method == "auto":
        method = "mesh" if nodes.is_mesh else "regular" if nodes.grid_axes else "voronoi"
    if method == "regular":
        if nodes.grid_axes is None:
            raise GraphRecipeError(f"{key}: method 'regular' needs a regular lat-lon node set")
        return regular_grid_areas(*nodes.grid_axes)
    if method == "mesh":
        if nodes.mesh is None:
            raise GraphRecipeError(f"{key}: method 'mesh' needs a mesh node set")
        return mesh_areas(nodes.mesh)
    return voronoi_areas(nodes.xyz)


def to_node_set(nodes: BuiltNodes, attributes: dict[str, np.ndarray]) -> NodeSet:
    return NodeSet(latitudes=nodes.latitudes, longitudes=nodes.longitudes, attributes=attributes)
