"""Edge sets from recipe entries: ``grid2mesh``, ``multi_mesh``, ``mesh2grid``, ``knn``, ``radius``.

Each entry names ``source``, ``target`` and ``builder``, plus the builder's keys (``BUILDER_KEYS``)
and optionally ``attributes`` (default ``[edge_length, edge_dirs]``) and ``allow_unconnected``.
Radii are given in kilometres (``radius_km``) or, as in GraphCast, as a fraction of the longest
edge of the finest mesh level (``radius_fraction``; grid-to-mesh default 0.6).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from wx_graphs.attributes import edge_attributes
from wx_graphs.connectivity import knn_edges, radius_edges, triangle_edges
from wx_graphs.errors import GraphRecipeError, MissingNodeSetError, UnconnectedNodesError
from wx_graphs.graph import EdgeSet
from wx_graphs.nodes import BuiltNodes
from wx_graphs.recipe_keys import check_keys, flag, integer, number
from wx_graphs.sphere import km_to_chord

logger = logging.getLogger(__name__)

COMMON_KEYS = {"source", "target", "builder", "attributes", "allow_unconnected"}
BUILDER_KEYS = {
    "grid2mesh": {"radius_fraction", "radius_km"},
    "radius": {"radius_fraction", "radius_km"},
    "multi_mesh": set(),
    "mesh2grid": set(),
    "knn": {"k", "per"},
}
EDGE_ATTRIBUTES = ("edge_length", "edge_dirs")
GRAPHCAST_RADIUS_FRACTION = 0.6


def edge_key(spec: Any, index: int, nodes: dict[str, BuiltNodes]) -> tuple[str, str, str]:
    """``(source, target, recipe key)`` of an edge entry, checking both node sets exist."""
    key = f"edges[{index}]"
    if not isinstance(spec, dict):
        raise GraphRecipeError(f"{key}: expected a mapping with source, target and builder")
    for required in ("source", "target", "builder"):
        if required not in spec:
            raise GraphRecipeError(f"{key}: lacks {required!r}")
    builder = spec["builder"]
    if builder not in BUILDER_KEYS:
        raise GraphRecipeError(
            f"{key}.builder: {builder!r} is not one of {', '.join(BUILDER_KEYS)}"
        )
    check_keys(spec, COMMON_KEYS | BUILDER_KEYS[builder], key=key)
    for end in ("source", "target"):
        if spec[end] not in nodes:
            raise MissingNodeSetError(
                f"{key}.{end}: node set {spec[end]!r} is not defined in 'nodes' "
                f"(defined: {', '.join(nodes) or 'none'})"
            )
    return spec["source"], spec["target"], f"{key} ({spec['source']} -> {spec['target']})"


def build_edges(spec: dict, source: BuiltNodes, target: BuiltNodes, *, key: str) -> EdgeSet:
    """The edge set an entry describes, with its attributes."""
    builder = spec["builder"]
    if builder == "multi_mesh":
        mesh = _need_mesh(source, key=key, role="source")
        if source is not target:
            raise GraphRecipeError(f"{key}: multi_mesh connects a mesh to itself (source = target)")
        edge_index = mesh.multi_mesh()
    elif builder == "mesh2grid":
        edge_index = triangle_edges(_need_mesh(source, key=key, role="source"), target.xyz)
    elif builder == "knn":
        k = integer(spec.get("k", 3), key=f"{key}.k", low=1)
        per = spec.get("per", "receiver")
        if per not in ("receiver", "sender"):
            raise GraphRecipeError(f"{key}.per: {per!r}: expected 'receiver' or 'sender'")
        edge_index = knn_edges(source.xyz, target.xyz, k, per=per)
    else:
        if builder == "grid2mesh":
            _need_mesh(target, key=key, role="target")
        radius = _radius(spec, source, target, key=key)
        edge_index = radius_edges(source.xyz, target.xyz, radius)
    names = spec.get("attributes", list(EDGE_ATTRIBUTES))
    if not isinstance(names, list) or not set(names) <= set(EDGE_ATTRIBUTES):
        raise GraphRecipeError(f"{key}.attributes: expected a list among {list(EDGE_ATTRIBUTES)}")
    attributes = {}
    if names:
        every = edge_attributes(source.xyz, target.latitudes, target.longitudes, edge_index)
        attributes = {name: every[name] for name in EDGE_ATTRIBUTES if name in names}
    return EdgeSet(edge_index=edge_index, attributes=attributes)


def _need_mesh(nodes: BuiltNodes, *, key: str, role: str):
    if nodes.mesh is None:
        raise GraphRecipeError(f"{key}: the {role} node set must be a mesh (icosahedral/stretched)")
    return nodes.mesh


def _radius(spec: dict, source: BuiltNodes, target: BuiltNodes, *, key: str) -> float:
    """The chord radius on the unit sphere from ``radius_km`` or ``radius_fraction``."""
    if "radius_km" in spec and "radius_fraction" in spec:
        raise GraphRecipeError(f"{key}: give radius_km or radius_fraction, not both")
    if "radius_km" in spec:
        return km_to_chord(number(spec["radius_km"], key=f"{key}.radius_km", low=0, strict=True))
    default = GRAPHCAST_RADIUS_FRACTION if spec["builder"] == "grid2mesh" else None
    fraction = spec.get("radius_fraction", default)
    if fraction is None:
        raise GraphRecipeError(f"{key}: a radius builder needs radius_km or radius_fraction")
    fraction = number(fraction, key=f"{key}.radius_fraction", low=0, strict=True)
    mesh = target.mesh or source.mesh
    if mesh is None:
        raise GraphRecipeError(f"{key}: radius_fraction needs a mesh at one end; use radius_km")
    return fraction * mesh.max_edge_chord()


def unconnected(edge_index: np.ndarray, count: int, row: int) -> np.ndarray:
    """Indices of nodes with no edge in row ``row`` (0: as sender, 1: as receiver)."""
    return np.flatnonzero(np.bincount(edge_index[row], minlength=count) == 0)


def check_connected(
    spec: dict,
    edges: EdgeSet,
    source: BuiltNodes,
    target: BuiltNodes,
    *,
    key: str,
    allow: bool,
) -> dict[str, int]:
    """Count grid nodes left out of an encoder (as sender) or decoder (as receiver).

    Raise :class:`UnconnectedNodesError` when any are, unless allowed by the recipe.
    """
    allow = flag(spec.get("allow_unconnected", allow), key=f"{key}.allow_unconnected")
    counts: dict[str, int] = {}
    if source is target:
        return counts
    for role, nodes, row in (("source", source, 0), ("target", target, 1)):
        if nodes.is_mesh:
            continue
        missing = unconnected(edges.edge_index, nodes.count, row)
        counts[f"unconnected_{role}_nodes"] = len(missing)
        if len(missing) == 0:
            continue
        first = int(missing[0])
        message = (
            f"{key}: {len(missing):,} of {nodes.count:,} grid nodes of the {role} set have no "
            f"edge (first: node {first} at latitude {nodes.latitudes[first]:.4f}, longitude "
            f"{nodes.longitudes[first]:.4f})"
        )
        if not allow:
            raise UnconnectedNodesError(
                message + "; enlarge the radius or mesh area, or set allow_unconnected: true"
            )
        logger.warning("%s (allowed by the recipe)", message)
    return counts
