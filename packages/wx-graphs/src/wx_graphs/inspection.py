"""Statistics that let a user check a graph before training on it: counts, degrees, lengths.

Edge lengths are recomputed in kilometres from the node coordinates (haversine on a sphere of
radius 6371 km), since the stored ``edge_length`` is normalised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wx_graphs.graph import Graph
from wx_graphs.sphere import EARTH_RADIUS_KM

PERCENTILES = (0, 1, 50, 99, 100)


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine distances in km between points given in degrees."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=np.float64)) for v in (lat1, lon1, lat2, lon2)
    )
    term = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(term, 0.0, 1.0)))


def edge_lengths_km(graph: Graph, source: str, target: str) -> np.ndarray:
    """Length in km of every edge of ``(source, target)`` ``[edge]``."""
    index = graph.edges[source, target].edge_index
    senders, receivers = graph.nodes[source], graph.nodes[target]
    return great_circle_km(
        senders.latitudes[index[0]],
        senders.longitudes[index[0]],
        receivers.latitudes[index[1]],
        receivers.longitudes[index[1]],
    )


def _distribution(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    quantiles = np.percentile(values, PERCENTILES)
    summary = {f"p{p}": float(q) for p, q in zip(PERCENTILES, quantiles, strict=True)}
    summary["mean"] = float(values.mean())
    return summary


def node_kind(graph: Graph, name: str) -> str:
    """``grid`` or ``mesh`` from the recipe (``unknown`` when the recipe does not say)."""
    kind = graph.recipe.get("nodes", {}).get(name, {}).get("kind")
    if kind is None:
        return "unknown"
    return "mesh" if kind in ("icosahedral", "stretched") else "grid"


def graph_statistics(graph: Graph) -> dict[str, Any]:
    """Counts, attribute ranges, degree and length distributions, unconnected node counts."""
    nodes = {}
    for name, node_set in graph.nodes.items():
        entry: dict[str, Any] = {"count": node_set.num_nodes, "kind": node_kind(graph, name)}
        for attribute, values in node_set.attributes.items():
            if values.dtype == bool:
                entry[attribute] = {"true": int(values.sum()), "false": int((~values).sum())}
            else:
                entry[attribute] = {"min": float(values.min()), "max": float(values.max())}
        nodes[name] = entry
    edges = {}
    for (source, target), edge_set in graph.edges.items():
        index = edge_set.edge_index
        out_degree = np.bincount(index[0], minlength=graph.nodes[source].num_nodes)
        in_degree = np.bincount(index[1], minlength=graph.nodes[target].num_nodes)
        edges[f"{source}->{target}"] = {
            "count": edge_set.num_edges,
            "out_degree": _distribution(out_degree),
            "in_degree": _distribution(in_degree),
            "length_km": _distribution(edge_lengths_km(graph, source, target)),
            "unconnected_sources": int((out_degree == 0).sum()),
            "unconnected_targets": int((in_degree == 0).sum()),
        }
    return {"nodes": nodes, "edges": edges}


def format_statistics(stats: dict[str, Any]) -> str:
    """The statistics as an aligned text report."""
    lines = ["nodes:"]
    for name, entry in stats["nodes"].items():
        extras = []
        for attribute, value in entry.items():
            if attribute in ("count", "kind"):
                continue
            if "true" in value:
                extras.append(f"{attribute}: {value['true']:,} true / {value['false']:,} false")
            else:
                extras.append(f"{attribute}: {value['min']:.4g} .. {value['max']:.4g}")
        lines.append(f"  {name:<10} {entry['count']:>12,}  ({entry['kind']})  " + "; ".join(extras))
    lines.append("edges:")
    for key, entry in stats["edges"].items():
        source, target = key.split("->")
        lines.append(f"  {key:<16} {entry['count']:>12,} edges")
        lines.append("    out-degree of " + _format_distribution(source, entry["out_degree"]))
        lines.append("    in-degree of  " + _format_distribution(target, entry["in_degree"]))
        lines.append("    length (km)   " + _format_distribution("", entry["length_km"], digits=1))
        lines.append(
            f"    nodes without an edge: {entry['unconnected_sources']:,} of {source} (as "
            f"sender), {entry['unconnected_targets']:,} of {target} (as receiver)"
        )
    return "\n".join(lines)


def _format_distribution(name: str, values: dict[str, float], digits: int = 0) -> str:
    if not values:
        return f"{name}: (none)"
    parts = [f"min {values['p0']:.{digits}f}", f"p1 {values['p1']:.{digits}f}"]
    parts += [f"median {values['p50']:.{digits}f}", f"mean {values['mean']:.{max(digits, 2)}f}"]
    parts += [f"p99 {values['p99']:.{digits}f}", f"max {values['p100']:.{digits}f}"]
    prefix = f"{name}: " if name else ""
    return prefix + ", ".join(parts)
