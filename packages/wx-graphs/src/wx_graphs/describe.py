"""Plain-language descriptions of recipes and graph files (``wx-graphs describe``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wx_graphs.edges import GRAPHCAST_RADIUS_FRACTION
from wx_graphs.graph_file import read_graph_header
from wx_graphs.nodes import BuiltNodes, build_nodes
from wx_graphs.recipe import check_recipe
from wx_graphs.sphere import EARTH_RADIUS_KM, chord_to_angle

ROLES = {"grid2mesh": "encoder", "multi_mesh": "processor", "mesh2grid": "decoder"}


def node_text(spec: dict[str, Any]) -> str:
    """What a node set entry asks for, in words."""
    kind = spec.get("kind")
    area = f" restricted to area {spec['area']}" if "area" in spec else ""
    margin = f" with a margin of {spec.get('margin_deg', 0)} degrees" if "area" in spec else ""
    if kind == "regular":
        poles = "poles included" if spec.get("poles", True) else "no pole rows"
        return (
            f"regular latitude-longitude grid at {spec.get('resolution')} degrees ({poles}){area}"
        )
    if kind == "file":
        return f"grid points read from the coordinate file {spec.get('path')}{area}"
    if kind == "dataset":
        return f"the cells of the wx dataset {spec.get('path')}{area}"
    if kind == "icosahedral":
        text = (
            f"icosahedral mesh refined {spec.get('refinement')} times (GraphCast multi-mesh nodes)"
        )
        return text + area + margin
    if kind == "stretched":
        return (
            f"stretched icosahedral mesh: refinement {spec.get('refinement_low')} everywhere, "
            f"{spec.get('refinement_high')} over area {spec.get('area')}{margin}"
        )
    return f"unknown kind {kind!r}"


def edge_text(spec: dict[str, Any]) -> str:
    """What an edge set entry asks for, in words."""
    source, target, builder = spec.get("source"), spec.get("target"), spec.get("builder")
    if builder in ("grid2mesh", "radius"):
        if "radius_km" in spec:
            radius = f"{spec['radius_km']} km"
        else:
            fraction = spec.get("radius_fraction", GRAPHCAST_RADIUS_FRACTION)
            radius = f"{fraction} x the longest edge of the finest mesh level"
        return f"each {source} node sends to every {target} node within {radius}"
    if builder == "multi_mesh":
        return f"GraphCast multi-mesh: the edges of every refinement level on the {source} nodes"
    if builder == "mesh2grid":
        return f"each {target} node receives from the 3 corners of the {source} triangle holding it"
    if builder == "knn":
        k, per = spec.get("k", 3), spec.get("per", "receiver")
        if per == "sender":
            return f"each {source} node sends to its {k} nearest {target} nodes"
        return f"each {target} node receives from its {k} nearest {source} nodes"
    return f"unknown builder {builder!r}"


def _mesh_spacing_km(nodes: BuiltNodes) -> str:
    if nodes.mesh is None:
        return ""
    angle = float(chord_to_angle(nodes.mesh.max_edge_chord()))
    return f", longest finest edge {angle * EARTH_RADIUS_KM:,.0f} km"


def _expected_edges(spec: dict[str, Any], counts: dict[str, int]) -> str:
    builder = spec.get("builder")
    if builder == "mesh2grid":
        return f" (expected {3 * counts[spec['target']]:,} edges when every node is covered)"
    if builder == "knn":
        end = spec["source"] if spec.get("per") == "sender" else spec["target"]
        return f" (expected {spec.get('k', 3) * counts[end]:,} edges)"
    return ""


def describe_recipe(recipe: dict[str, Any], *, base_dir: Path) -> str:
    """A description of what ``recipe`` builds, with node counts (node sets are built)."""
    check_recipe(recipe)
    lines = [f"recipe {recipe.get('name', '(unnamed)')}: {recipe.get('description', '')}".rstrip()]
    counts = {}
    lines.append("node sets:")
    for name, spec in recipe["nodes"].items():
        nodes = build_nodes(name, spec, base_dir=base_dir)
        counts[name] = nodes.count
        shape = ""
        if nodes.grid_axes is not None:
            shape = f" = {len(nodes.grid_axes[0])} x {len(nodes.grid_axes[1])} regular grid"
        lines.append(
            f"  {name}: {node_text(spec)}: {nodes.count:,} nodes{shape}{_mesh_spacing_km(nodes)}"
        )
    lines.append("edge sets:")
    for spec in recipe["edges"]:
        role = ROLES.get(spec.get("builder"), spec.get("builder"))
        lines.append(
            f"  {spec.get('source')} -> {spec.get('target')} ({role}): {edge_text(spec)}"
            + _expected_edges(spec, counts)
        )
    lines.append(_allowance(recipe))
    return "\n".join(lines)


def describe_graph(path: Path) -> str:
    """A description of a graph file from its header (nothing is rebuilt)."""
    header = read_graph_header(path)
    recipe = header.get("recipe", {})
    lines = [f"{path}: wx graph (format version {header['format_version']})"]
    lines.append(f"recipe {recipe.get('name', '(unnamed)')}: {recipe.get('description', '')}")
    lines.append("node sets:")
    for name, entry in header["nodes"].items():
        spec = recipe.get("nodes", {}).get(name, {})
        attributes = ", ".join(entry["attributes"]) or "none"
        lines.append(
            f"  {name}: {node_text(spec)}: {entry['count']:,} nodes (attributes: {attributes})"
        )
    lines.append("edge sets:")
    specs = {(s.get("source"), s.get("target")): s for s in recipe.get("edges", [])}
    for entry in header["edges"].values():
        spec = specs.get((entry["source"], entry["target"]), {})
        role = ROLES.get(spec.get("builder"), spec.get("builder", "?"))
        lines.append(
            f"  {entry['source']} -> {entry['target']} ({role}): {edge_text(spec)}: "
            f"{entry['count']:,} edges (attributes: {', '.join(entry['attributes']) or 'none'})"
        )
    lines.append(_allowance(recipe))
    versions = header.get("provenance", {}).get("wx", {})
    lines.append("made with " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return "\n".join(lines)


def _allowance(recipe: dict[str, Any]) -> str:
    if recipe.get("allow_unconnected", False):
        return "grid nodes without encoder/decoder edges are allowed"
    return "every grid node must have an encoder and a decoder edge (checked when building)"
