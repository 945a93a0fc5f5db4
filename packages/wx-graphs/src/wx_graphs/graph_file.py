"""The graph file: one safetensors file of arrays plus a JSON header; loading never unpickles.

Arrays are named ``nodes/<set>/<field>`` (``latitudes``, ``longitudes`` and each attribute) and
``edges/<source>__<target>/<field>`` (``edge_index`` and each attribute). The safetensors
metadata holds one key, ``"wx"``: the JSON header ``{"format": "wx-graph", "format_version": 1,
"provenance", "recipe", "nodes", "edges", "content_sha256"}``, written with sorted keys. The
provenance carries no creation time or host, so the same recipe gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from wx_graphs.graph import EdgeSet, Graph, NodeSet
from wx_utils.artifacts import WX_METADATA_KEY
from wx_utils.metadata import REGISTRY, MetadataError, make_header, to_json

FORMAT_NAME = "wx-graph"
FORMAT_VERSION = 1


def graph_arrays(graph: Graph) -> dict[str, np.ndarray]:
    """Every array of ``graph`` under its file name."""
    arrays: dict[str, np.ndarray] = {}
    for name, nodes in graph.nodes.items():
        arrays[f"nodes/{name}/latitudes"] = nodes.latitudes.astype(np.float64)
        arrays[f"nodes/{name}/longitudes"] = nodes.longitudes.astype(np.float64)
        for attribute, values in nodes.attributes.items():
            arrays[f"nodes/{name}/{attribute}"] = values
    for (source, target), edges in graph.edges.items():
        prefix = f"edges/{source}__{target}"
        arrays[f"{prefix}/edge_index"] = edges.edge_index.astype(np.int64)
        for attribute, values in edges.attributes.items():
            arrays[f"{prefix}/{attribute}"] = values
    return {key: np.ascontiguousarray(value) for key, value in arrays.items()}


def content_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over array names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = arrays[key]
        digest.update(f"{key}|{value.dtype.str}|{list(value.shape)}|".encode())
        digest.update(memoryview(np.ascontiguousarray(value)).cast("B"))
    return digest.hexdigest()


def graph_header(graph: Graph, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The ``wx`` metadata header of a graph file."""
    nodes = {
        name: {"count": nodes.num_nodes, "attributes": sorted(nodes.attributes)}
        for name, nodes in graph.nodes.items()
    }
    edges = {
        f"{source}__{target}": {
            "source": source,
            "target": target,
            "count": edges.num_edges,
            "attributes": sorted(edges.attributes),
        }
        for (source, target), edges in graph.edges.items()
    }
    return make_header(
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        provenance=graph.provenance,
        recipe=graph.recipe,
        nodes=nodes,
        edges=edges,
        content_sha256=content_sha256(arrays),
    )


def save_graph(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = graph_arrays(graph)
    metadata = {WX_METADATA_KEY: to_json(graph_header(graph, arrays))}
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file(arrays, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_graph_header(path: str | Path) -> dict[str, Any]:
    """The ``wx`` header of a graph file (checked and migrated to the current version)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such graph file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            extra = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types for bad files
        raise MetadataError(f"{path}: not a safetensors graph file ({error})") from None
    if WX_METADATA_KEY not in extra:
        raise MetadataError(f"{path}: safetensors file has no {WX_METADATA_KEY!r} metadata")
    try:
        header = json.loads(extra[WX_METADATA_KEY])
    except json.JSONDecodeError as error:
        raise MetadataError(f"{path}: {WX_METADATA_KEY!r} metadata is not JSON ({error})") from None
    return REGISTRY.upgrade(
        header, format_name=FORMAT_NAME, current_version=FORMAT_VERSION, source=str(path)
    )


def load_graph(path: str | Path, *, verify: bool = True) -> Graph:
    """Read a graph file; ``verify`` checks the content checksum of the arrays."""
    path = Path(path)
    header = read_graph_header(path)
    with safe_open(str(path), framework="numpy") as handle:
        arrays = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    if verify and content_sha256(arrays) != header.get("content_sha256"):
        raise MetadataError(f"{path}: content checksum mismatch: the file is corrupted or edited")
    nodes = {name: _node_set(arrays, name, path) for name in header["nodes"]}
    edges = {
        (entry["source"], entry["target"]): _edge_set(arrays, key, path)
        for key, entry in header["edges"].items()
    }
    return Graph(nodes=nodes, edges=edges, recipe=header["recipe"], provenance=header["provenance"])


def _fields(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}


def _node_set(arrays: dict[str, np.ndarray], name: str, path: Path) -> NodeSet:
    fields = _fields(arrays, f"nodes/{name}/")
    for required in ("latitudes", "longitudes"):
        if required not in fields:
            raise MetadataError(f"{path}: node set {name!r} lacks the array {required!r}")
    latitudes, longitudes = fields.pop("latitudes"), fields.pop("longitudes")
    return NodeSet(latitudes=latitudes, longitudes=longitudes, attributes=fields)


def _edge_set(arrays: dict[str, np.ndarray], key: str, path: Path) -> EdgeSet:
    fields = _fields(arrays, f"edges/{key}/")
    if "edge_index" not in fields:
        raise MetadataError(f"{path}: edge set {key!r} lacks the array 'edge_index'")
    return EdgeSet(edge_index=fields.pop("edge_index"), attributes=fields)
