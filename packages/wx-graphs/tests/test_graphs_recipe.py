"""Recipes: node set kinds, the example recipes, and a specific error for each bad input."""

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from wx_graphs import (
    CoordinateError,
    EmptyAreaError,
    GraphRecipeError,
    MissingNodeSetError,
    RefinementError,
    UnconnectedNodesError,
    build_graph,
    read_recipe,
)
from wx_graphs.nodes import build_nodes

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "graphs"
ENCODER = {"source": "data", "target": "hidden", "builder": "grid2mesh"}
PROCESSOR = {"source": "hidden", "target": "hidden", "builder": "multi_mesh"}
DECODER = {"source": "hidden", "target": "data", "builder": "mesh2grid"}


def recipe(data: dict, hidden: dict | None = None, edges: list | None = None, **top) -> dict:
    hidden = hidden or {"kind": "icosahedral", "refinement": 2}
    edges = [ENCODER, PROCESSOR, DECODER] if edges is None else edges
    return {"nodes": {"data": data, "hidden": hidden}, "edges": edges, **top}


def test_graphcast_1_degree_example_counts():
    graph = build_graph(read_recipe(EXAMPLES / "graphcast-1deg-r5.yaml"), base_dir=EXAMPLES)
    assert graph.nodes["data"].num_nodes == 181 * 360
    assert graph.nodes["hidden"].num_nodes == 10_242
    assert graph.edges["hidden", "hidden"].num_edges == 81_900
    assert graph.edges["hidden", "data"].num_edges == 195_480
    encoder = graph.edges["data", "hidden"].edge_index
    assert np.bincount(encoder[0], minlength=181 * 360).min() >= 1
    np.testing.assert_allclose(graph.nodes["data"].attributes["area_weight"].mean(), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_graphcast_quarter_degree_example_builds_with_published_counts():
    graph = build_graph(read_recipe(EXAMPLES / "graphcast-0p25deg-r6.yaml"), base_dir=EXAMPLES)
    assert graph.nodes["data"].num_nodes == 1_038_240
    assert graph.nodes["hidden"].num_nodes == 40_962
    assert graph.edges["hidden", "hidden"].num_edges == 327_660
    assert graph.edges["hidden", "data"].num_edges == 3_114_720
    encoder = graph.edges["data", "hidden"].edge_index
    assert abs(encoder.shape[1] - 1_618_746) <= 162  # within 0.01 %
    assert np.bincount(encoder[0], minlength=1_038_240).min() >= 1  # every grid node connected


def test_regional_example_on_the_ncep_grid(shared_data):
    source = shared_data("air_temperature.nc")
    netCDF4 = pytest.importorskip("netCDF4")
    graph = build_graph(read_recipe(EXAMPLES / "north-america-regional.yaml"), base_dir=EXAMPLES)
    data = graph.nodes["data"]
    with netCDF4.Dataset(source) as dataset:
        lat, lon = dataset["lat"][:], dataset["lon"][:]
    np.testing.assert_array_equal(data.latitudes, np.repeat(lat, 53))
    np.testing.assert_array_equal(data.longitudes, np.tile(lon, 25))
    interior = data.attributes["interior_mask"].reshape(25, 53)
    assert interior[2:-2, 2:-2].all() and interior.sum() == 21 * 49  # two boundary rows/columns
    hidden = graph.nodes["hidden"]
    assert hidden.attributes["interior_mask"].any() and not hidden.attributes["interior_mask"].all()
    np.testing.assert_array_equal(np.bincount(graph.edges["hidden", "data"].edge_index[1]), 3)


def test_stretched_example_is_finer_over_the_area():
    from wx_graphs.regions import Area

    graph = build_graph(read_recipe(EXAMPLES / "stretched-north-america.yaml"), base_dir=EXAMPLES)
    hidden = graph.nodes["hidden"]
    area = Area(north=75, west=200, south=15, east=330)
    inside = area.contains(hidden.latitudes, hidden.longitudes)
    far = area.distance_deg(hidden.latitudes, hidden.longitudes) > 15
    weight = hidden.attributes["area_weight"]
    # refinement 5 inside, 3 far away: cells 4**2 = 16 times smaller
    np.testing.assert_allclose(weight[far].mean() / weight[inside].mean(), 16, rtol=0.1)
    assert 642 < hidden.num_nodes < 10_242
    np.testing.assert_array_equal(np.bincount(graph.edges["hidden", "data"].edge_index[1]), 3)


def test_stretched_mesh_levels_nest():
    from wx_graphs.mesh import stretched_mesh
    from wx_graphs.regions import Area

    mesh = stretched_mesh(
        2, 4, area=Area(north=10, west=0, south=-10, east=20), margin_deg=0, key="m"
    )
    assert len(mesh.level_faces[2]) == 320  # all of level 2
    assert 0 < len(mesh.level_faces[4]) < 5120
    np.testing.assert_allclose(np.linalg.norm(mesh.xyz, axis=1), 1.0)


def test_coordinate_file_npz(tmp_path):
    lat, lon = np.array([10.0, 0.0, -10.0]), np.array([0.0, 20.0, 40.0, 60.0])
    np.savez(tmp_path / "grid.npz", latitudes=lat, longitudes=lon)
    nodes = build_nodes("data", {"kind": "file", "path": "grid.npz"}, base_dir=tmp_path)
    np.testing.assert_array_equal(nodes.latitudes, np.repeat(lat, 4))
    np.testing.assert_array_equal(nodes.longitudes, np.tile(lon, 3))
    assert nodes.grid_axes is not None


def write_store(path: Path, lat: np.ndarray, lon: np.ndarray) -> None:
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array("latitudes", data=lat)
    group.create_array("longitudes", data=lon)


def test_dataset_store_read_with_zarr(tmp_path, monkeypatch):
    lat, lon = np.array([50.0, 50.0, 40.0, 40.0]), np.array([0.0, 10.0, 0.0, 10.0])
    write_store(tmp_path / "ds.zarr", lat, lon)
    monkeypatch.setitem(sys.modules, "wx_datasets", None)  # wx-datasets not installed
    nodes = build_nodes("data", {"kind": "dataset", "path": "ds.zarr"}, base_dir=tmp_path)
    np.testing.assert_array_equal(nodes.latitudes, lat)
    np.testing.assert_array_equal(nodes.longitudes, lon)


def test_dataset_store_read_through_wx_datasets(tmp_path, monkeypatch):
    opened = []
    view = types.SimpleNamespace(latitudes=np.array([1.0, 2.0]), longitudes=np.array([3.0, 4.0]))
    fake = types.ModuleType("wx_datasets")
    fake.open_dataset = lambda path: opened.append(path) or view
    monkeypatch.setitem(sys.modules, "wx_datasets", fake)
    nodes = build_nodes("data", {"kind": "dataset", "path": "store.zarr"}, base_dir=tmp_path)
    assert opened == [str(tmp_path / "store.zarr")]
    np.testing.assert_array_equal(nodes.latitudes, [1.0, 2.0])


def test_dataset_store_without_coordinates(tmp_path, monkeypatch):
    zarr = pytest.importorskip("zarr")
    zarr.open_group(str(tmp_path / "ds.zarr"), mode="w", zarr_format=3).create_array(
        "latitudes", data=np.zeros(2)
    )
    monkeypatch.setitem(sys.modules, "wx_datasets", None)
    with pytest.raises(KeyError, match="no 'longitudes' array"):
        build_nodes("data", {"kind": "dataset", "path": "ds.zarr"}, base_dir=tmp_path)


def test_grid_area_cut_out_and_knn_decoder():
    graph = build_graph(
        recipe(
            {"kind": "regular", "resolution": 5.0, "area": [60, -10, 30, 30]},
            {"kind": "icosahedral", "refinement": 3, "area": [60, -10, 30, 30], "margin_deg": 8},
            [ENCODER, PROCESSOR, {"source": "hidden", "target": "data", "builder": "knn", "k": 4}],
        )
    )
    data = graph.nodes["data"]
    assert data.num_nodes == 7 * 9  # 60..30 N every 5, 350..30 E every 5
    assert graph.edges["hidden", "data"].num_edges == 4 * data.num_nodes


# --- bad inputs: each has its own error naming the culprit -------------------------------


@pytest.mark.parametrize("refinement", [-1, 10, 1.5])
def test_bad_refinement(refinement):
    with pytest.raises(RefinementError, match=r"nodes\.hidden\.refinement"):
        build_graph(
            recipe(
                {"kind": "regular", "resolution": 30.0},
                {"kind": "icosahedral", "refinement": refinement},
            )
        )


def test_stretched_refinements_must_increase():
    hidden = {
        "kind": "stretched",
        "refinement_low": 4,
        "refinement_high": 3,
        "area": [10, 0, 0, 10],
    }
    with pytest.raises(RefinementError, match="refinement_high .3. must be greater"):
        build_graph(recipe({"kind": "regular", "resolution": 30.0}, hidden))


def test_grid_area_without_nodes():
    data = {"kind": "regular", "resolution": 30.0, "area": [50, 5, 40, 25]}  # between columns
    with pytest.raises(
        EmptyAreaError, match=r"nodes\.data: area \[50.0, 5.0, 40.0, 25.0\] contains none"
    ):
        build_graph(recipe(data))


def test_mesh_area_without_nodes():
    hidden = {"kind": "icosahedral", "refinement": 0, "area": [1, 1, 0, 2]}
    with pytest.raises(EmptyAreaError, match=r"nodes\.hidden: no mesh node of refinement 0"):
        build_graph(recipe({"kind": "regular", "resolution": 30.0}, hidden))


@pytest.mark.parametrize(
    ("lat", "message"),
    [
        ([0.0, np.nan, 10.0], "1 latitudes are NaN"),
        ([0.0, 95.0, 10.0], r"latitudes outside \[-90, 90\].*95\.0"),
    ],
)
def test_bad_coordinates(tmp_path, lat, message):
    np.savez(tmp_path / "points.npz", latitudes=np.array(lat), longitudes=np.array([0.0, 1.0, 2.0]))
    with pytest.raises(CoordinateError, match=message):
        build_graph(recipe({"kind": "file", "path": str(tmp_path / "points.npz")}))


def test_missing_coordinate_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.nc: coordinate file not found"):
        build_graph(recipe({"kind": "file", "path": "missing.nc"}), base_dir=tmp_path)


def test_edges_refer_to_missing_node_set():
    edges = [ENCODER, {"source": "hidden", "target": "grid", "builder": "mesh2grid"}]
    with pytest.raises(
        MissingNodeSetError, match=r"edges\[1\]\.target: node set 'grid' is not defined"
    ):
        build_graph(recipe({"kind": "regular", "resolution": 30.0}, edges=edges))


def test_unconnected_grid_node_fails_unless_allowed():
    small = {**ENCODER, "radius_km": 50.0}
    bad = recipe({"kind": "regular", "resolution": 10.0}, edges=[small, PROCESSOR, DECODER])
    with pytest.raises(
        UnconnectedNodesError, match=r"edges\[0\] \(data -> hidden\): .* of 684 grid nodes"
    ):
        build_graph(bad)
    graph = build_graph({**bad, "allow_unconnected": True})
    senders = np.bincount(graph.edges["data", "hidden"].edge_index[0], minlength=684)
    assert (senders == 0).sum() > 0


def test_uncovered_grid_node_in_the_decoder():
    hidden = {"kind": "icosahedral", "refinement": 3, "area": [30, 0, 0, 30], "margin_deg": 0}
    edges = [{**ENCODER, "radius_km": 3000.0}, PROCESSOR, DECODER]
    with pytest.raises(UnconnectedNodesError, match=r"edges\[2\] \(hidden -> data\).*target set"):
        build_graph(
            recipe({"kind": "regular", "resolution": 10.0, "area": [30, 0, 0, 30]}, hidden, edges)
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, r"recipe: unknown key\(s\) \['colour'\]"),
        ({"nodes": {}}, "recipe.nodes: expected a non-empty mapping"),
        (
            {"edges": [{**ENCODER, "builder": "magic"}]},
            r"edges\[0\]\.builder: 'magic' is not one of",
        ),
        ({"edges": [{**ENCODER, "radius": 3}]}, r"edges\[0\]: unknown key\(s\) \['radius'\]"),
        ({"edges": [ENCODER, ENCODER]}, "a second edge set from 'data' to 'hidden'"),
        (
            {"edges": [{**PROCESSOR, "source": "data", "target": "data"}]},
            "source node set must be a mesh",
        ),
    ],
)
def test_recipe_structure_errors(change, message):
    with pytest.raises(GraphRecipeError, match=message):
        build_graph({**recipe({"kind": "regular", "resolution": 30.0}), **change})


def test_bad_resolution_and_kind():
    with pytest.raises(GraphRecipeError, match=r"nodes\.data\.resolution: 7\.0 must divide 180"):
        build_graph(recipe({"kind": "regular", "resolution": 7.0}))
    with pytest.raises(GraphRecipeError, match=r"nodes\.data\.kind: 'gaussian' is not one of"):
        build_graph(recipe({"kind": "gaussian"}))
