"""The graph file: round trip, byte identity, HeteroData layout, corrupted and foreign files."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from wx_graphs import EdgeSet, Graph, NodeSet, build_graph, load_graph, save_graph
from wx_graphs.errors import MissingNodeSetError
from wx_utils.artifacts import read_artifact_metadata
from wx_utils.metadata import MetadataError

RECIPE = {
    "name": "tiny",
    "nodes": {
        "data": {"kind": "regular", "resolution": 15.0},
        "hidden": {"kind": "icosahedral", "refinement": 2},
    },
    "edges": [
        {"source": "data", "target": "hidden", "builder": "grid2mesh"},
        {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
        {"source": "hidden", "target": "data", "builder": "mesh2grid"},
    ],
}


@pytest.fixture(scope="module")
def graph():
    return build_graph(RECIPE)


def test_round_trip_keeps_every_array_and_the_recipe(graph, tmp_path):
    path = save_graph(graph, tmp_path / "g.safetensors")
    loaded = load_graph(path)
    assert loaded.recipe == RECIPE
    assert loaded.provenance == graph.provenance
    for name, nodes in graph.nodes.items():
        np.testing.assert_array_equal(loaded.nodes[name].latitudes, nodes.latitudes)
        np.testing.assert_array_equal(loaded.nodes[name].longitudes, nodes.longitudes)
        assert loaded.nodes[name].attributes.keys() == nodes.attributes.keys()
        for key, values in nodes.attributes.items():
            np.testing.assert_array_equal(loaded.nodes[name].attributes[key], values)
    assert loaded.edges.keys() == graph.edges.keys()
    for key, edges in graph.edges.items():
        np.testing.assert_array_equal(loaded.edges[key].edge_index, edges.edge_index)
        assert loaded.edges[key].edge_index.dtype == np.int64
        for name, values in edges.attributes.items():
            np.testing.assert_array_equal(loaded.edges[key].attributes[name], values)


def test_file_layout_and_header(graph, tmp_path):
    path = save_graph(graph, tmp_path / "g.safetensors")
    header = read_artifact_metadata(path)  # the wx-utils reader finds the same header
    assert header["format"] == "wx-graph" and header["format_version"] == 1
    assert header["nodes"]["data"]["count"] == 13 * 24
    assert header["edges"]["hidden__data"] == {
        "source": "hidden",
        "target": "data",
        "count": 3 * 13 * 24,
        "attributes": ["edge_dirs", "edge_length"],
    }
    assert "created" not in header["provenance"] and "command" not in header["provenance"]
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        keys = set(handle.keys())
    assert {
        "nodes/data/latitudes",
        "nodes/hidden/area_weight",
        "edges/data__hidden/edge_index",
    } <= keys
    assert "edges/hidden__hidden/edge_dirs" in keys


def test_same_recipe_gives_identical_bytes(tmp_path):
    first = save_graph(build_graph(RECIPE), tmp_path / "a.safetensors")
    second = save_graph(build_graph(json.loads(json.dumps(RECIPE))), tmp_path / "b.safetensors")
    assert first.read_bytes() == second.read_bytes()


def test_hetero_data_layout(graph):
    torch = pytest.importorskip("torch")
    data = graph.to_hetero_data()
    hidden = graph.nodes["hidden"]
    assert (
        data["hidden"].x.shape == (hidden.num_nodes, 2) and data["hidden"].x.dtype == torch.float32
    )
    np.testing.assert_allclose(
        data["hidden"].x[:, 0].numpy(), np.radians(hidden.latitudes), rtol=1e-6
    )
    np.testing.assert_allclose(
        data["hidden"].x[:, 1].numpy(), np.radians(hidden.longitudes), rtol=1e-6
    )
    assert data["data"].area_weight.shape == (graph.nodes["data"].num_nodes,)
    for (source, target), edges in graph.edges.items():
        store = data[source, "to", target]
        assert store.edge_index.dtype == torch.int64
        np.testing.assert_array_equal(store.edge_index.numpy(), edges.edge_index)
        assert store.edge_attr.shape == (edges.num_edges, 4)
        np.testing.assert_array_equal(
            store.edge_attr[:, :1].numpy(), edges.attributes["edge_length"]
        )
        np.testing.assert_array_equal(store.edge_attr[:, 1:].numpy(), edges.attributes["edge_dirs"])


def test_corrupted_array_fails_the_checksum(graph, tmp_path):
    path = save_graph(graph, tmp_path / "g.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # flip bits in the last array
    path.write_bytes(bytes(raw))
    with pytest.raises(MetadataError, match="checksum mismatch"):
        load_graph(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file(
        {"w": np.zeros(3, np.float32)},
        str(path),
        metadata={"wx": json.dumps({"format": "wx-checkpoint", "format_version": 1})},
    )
    with pytest.raises(MetadataError, match="expected a 'wx-graph' artifact"):
        load_graph(path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(MetadataError, match="not a safetensors graph file"):
        load_graph(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError, match="no such graph file"):
        load_graph(tmp_path / "missing.safetensors")


def test_interrupted_save_leaves_no_file(graph, tmp_path, monkeypatch):
    import wx_graphs.graph_file as graph_file

    def failing_save(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(graph_file, "save_file", failing_save)
    with pytest.raises(KeyboardInterrupt):
        save_graph(graph, tmp_path / "g.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_graph_container_checks_edges_against_nodes():
    nodes = {"data": NodeSet(latitudes=np.zeros(2), longitudes=np.zeros(2))}
    with pytest.raises(MissingNodeSetError, match="'hidden'"):
        Graph(
            nodes=nodes, edges={("data", "hidden"): EdgeSet(edge_index=np.zeros((2, 1), np.int64))}
        )
    with pytest.raises(ValueError, match="indices must lie in 0..1"):
        Graph(nodes=nodes, edges={("data", "data"): EdgeSet(edge_index=np.array([[0], [2]]))})
    with pytest.raises(ValueError, match="double underscore"):
        Graph(nodes={"a__b": nodes["data"]}, edges={})
