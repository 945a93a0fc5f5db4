"""Recipes: a YAML/JSON description of node sets, edge sets and attributes -> a :class:`Graph`.

``build_graph(recipe)`` builds the node sets in recipe order, then the edge sets in list order,
then checks that every grid node has an encoder and a decoder edge. The recipe is stored in the
graph with a provenance record free of creation time, host and command line, so the same recipe
in the same environment gives the same file bytes.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from wx_graphs.edges import build_edges, check_connected, edge_key
from wx_graphs.errors import GraphRecipeError
from wx_graphs.graph import Graph, check_name
from wx_graphs.nodes import BuiltNodes, build_nodes, node_attributes, to_node_set
from wx_graphs.recipe_keys import check_keys, flag
from wx_utils.progress import progress
from wx_utils.provenance import provenance

logger = logging.getLogger(__name__)

TOP_KEYS = {"name", "description", "nodes", "edges", "allow_unconnected"}


def read_recipe(path: str | Path) -> dict[str, Any]:
    """A recipe from a YAML (or JSON) file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: recipe file not found")
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise GraphRecipeError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(recipe, dict):
        raise GraphRecipeError(f"{path}: a recipe must be a mapping with 'nodes' and 'edges'")
    return recipe


def check_recipe(recipe: Any) -> None:
    """Top-level structure checks (per-entry checks happen while building)."""
    if not isinstance(recipe, dict):
        raise GraphRecipeError("recipe: expected a mapping with 'nodes' and 'edges'")
    check_keys(recipe, TOP_KEYS, key="recipe")
    for required in ("nodes", "edges"):
        if required not in recipe:
            raise GraphRecipeError(f"recipe: lacks the key {required!r}")
    if not isinstance(recipe["nodes"], dict) or not recipe["nodes"]:
        raise GraphRecipeError("recipe.nodes: expected a non-empty mapping of node set names")
    if not isinstance(recipe["edges"], list):
        raise GraphRecipeError("recipe.edges: expected a list of edge sets")
    for name in recipe["nodes"]:
        try:
            check_name(name, what="node set")
        except ValueError as error:
            raise GraphRecipeError(f"recipe.nodes: {error}") from None
    flag(recipe.get("allow_unconnected", False), key="recipe.allow_unconnected")


def graph_provenance(recipe: dict[str, Any]) -> dict[str, Any]:
    """Provenance without creation time, host or command line (byte-identical graph files)."""
    record = provenance(recipe, timestamp=False)
    record.pop("command", None)
    return record


def build_graph(
    recipe: dict[str, Any], *, base_dir: str | Path | None = None, show_progress: bool = False
) -> Graph:
    """Build the graph a recipe describes; relative paths are resolved against ``base_dir``."""
    check_recipe(recipe)
    try:
        recipe = json.loads(json.dumps(copy.deepcopy(recipe)))  # plain JSON values only
    except (TypeError, ValueError) as error:
        raise GraphRecipeError(f"recipe: values must be plain JSON/YAML values ({error})") from None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    steps = len(recipe["nodes"]) + len(recipe["edges"])
    bar = progress(
        total=steps, description="building graph", unit="step", disable=not show_progress
    )
    try:
        built: dict[str, BuiltNodes] = {}
        node_sets = {}
        for name, spec in recipe["nodes"].items():
            bar.set_postfix_str(f"nodes {name}")
            built[name] = build_nodes(name, spec, base_dir=base)
            node_sets[name] = to_node_set(built[name], node_attributes(name, built[name], spec))
            logger.debug("node set %s: %d nodes", name, built[name].count)
            bar.update(1)
        edge_sets = _build_edge_sets(recipe, built, bar)
    finally:
        bar.close()
    return Graph(
        nodes=node_sets, edges=edge_sets, recipe=recipe, provenance=graph_provenance(recipe)
    )


def _build_edge_sets(recipe: dict[str, Any], built: dict[str, BuiltNodes], bar) -> dict:
    allow = recipe.get("allow_unconnected", False)
    edge_sets = {}
    for index, spec in enumerate(recipe["edges"]):
        source, target, key = edge_key(spec, index, built)
        if (source, target) in edge_sets:
            raise GraphRecipeError(f"{key}: a second edge set from {source!r} to {target!r}")
        bar.set_postfix_str(f"edges {source}->{target}")
        edges = build_edges(spec, built[source], built[target], key=key)
        check_connected(spec, edges, built[source], built[target], key=key, allow=allow)
        logger.debug("edge set %s -> %s: %d edges", source, target, edges.num_edges)
        edge_sets[(source, target)] = edges
        bar.update(1)
    return edge_sets
