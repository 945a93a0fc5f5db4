"""The wx-graphs command line: create, inspect (with plots), describe, and one-line errors."""

from pathlib import Path

import pytest
import yaml

from wx_graphs import load_graph
from wx_graphs.cli import main

RECIPE = {
    "name": "cli-tiny",
    "description": "tiny test graph",
    "nodes": {
        "data": {"kind": "regular", "resolution": 10.0},
        "hidden": {"kind": "icosahedral", "refinement": 2},
    },
    "edges": [
        {"source": "data", "target": "hidden", "builder": "grid2mesh"},
        {"source": "hidden", "target": "hidden", "builder": "multi_mesh"},
        {"source": "hidden", "target": "data", "builder": "mesh2grid"},
    ],
}


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    return path


def test_create_then_inspect_with_plots(recipe_file, tmp_path, capsys):
    out = tmp_path / "tiny.safetensors"
    assert main(["create", str(recipe_file), str(out)]) == 0
    captured = capsys.readouterr()
    assert "edges hidden -> data: 2,052" in captured.out  # 3 x 19 x 36
    assert "building graph" in captured.err  # the progress bar
    assert load_graph(out).nodes["hidden"].num_nodes == 162

    plots = tmp_path / "plots"
    assert main(["inspect", str(out), "--plots", str(plots), "--zoom", "60,-20,20,40"]) == 0
    report = capsys.readouterr().out
    assert "hidden->hidden" in report and "1,260 edges" in report  # 60 + 240 + 960
    assert "nodes without an edge: 0 of data (as sender)" in report
    for suffix in ("map", "globe", "zoom", "distributions"):
        png = plots / f"tiny-{suffix}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_create_refuses_to_overwrite(recipe_file, tmp_path, capsys):
    out = tmp_path / "g.safetensors"
    out.write_text("precious")
    assert main(["create", str(recipe_file), str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "precious"


def test_describe_recipe_and_graph(recipe_file, tmp_path, capsys):
    assert main(["describe", str(recipe_file)]) == 0
    text = capsys.readouterr().out
    assert "regular latitude-longitude grid at 10.0 degrees (poles included): 684 nodes" in text
    assert "icosahedral mesh refined 2 times" in text and "162 nodes" in text
    assert "(expected 2,052 edges" in text  # mesh2grid: 3 x 684
    out = tmp_path / "g.safetensors"
    main(["create", str(recipe_file), str(out)])
    capsys.readouterr()
    assert main(["describe", str(out)]) == 0
    text = capsys.readouterr().out
    assert "hidden -> data (decoder)" in text and "2,052 edges" in text


def test_user_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                **RECIPE,
                "nodes": {**RECIPE["nodes"], "hidden": {"kind": "icosahedral", "refinement": 12}},
            }
        )
    )
    assert main(["create", str(bad), str(tmp_path / "g.safetensors")]) == 2
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert line.endswith(
        "wx-graphs: error: nodes.hidden.refinement: refinement 12 is out of range: "
        "expected 0..9 (level 9 already has 2,621,442 nodes)"
    )
    assert "Traceback" not in err
    assert not (tmp_path / "g.safetensors").exists()
    assert main(["inspect", str(tmp_path / "missing.safetensors")]) == 2
    assert "no such graph file" in capsys.readouterr().err
