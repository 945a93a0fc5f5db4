"""Node sets, edge builders and attributes for global, regional and stretched wx graphs.

``build_graph(recipe)`` turns a recipe into a :class:`Graph` (node sets ``data`` and ``hidden``
with ``grid2mesh``, ``multi_mesh`` and ``mesh2grid`` edge sets in the GraphCast layout);
``save_graph``/``load_graph`` write and read the safetensors graph file; ``Graph.to_hetero_data``
converts to ``torch_geometric.data.HeteroData``.
"""

from importlib.metadata import PackageNotFoundError, version

from wx_graphs.errors import (
    CoordinateError,
    EmptyAreaError,
    GraphRecipeError,
    MissingNodeSetError,
    RefinementError,
    UnconnectedNodesError,
)
from wx_graphs.graph import EdgeSet, Graph, NodeSet
from wx_graphs.graph_file import load_graph, read_graph_header, save_graph
from wx_graphs.recipe import build_graph, read_recipe

try:
    __version__ = version("wx-graphs")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "CoordinateError",
    "EdgeSet",
    "EmptyAreaError",
    "Graph",
    "GraphRecipeError",
    "MissingNodeSetError",
    "NodeSet",
    "RefinementError",
    "UnconnectedNodesError",
    "__version__",
    "build_graph",
    "load_graph",
    "read_graph_header",
    "read_recipe",
    "save_graph",
]
