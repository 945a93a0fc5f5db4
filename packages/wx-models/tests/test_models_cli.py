"""``wx-models summary``, ``inspect`` and ``card`` on tiny graphs and checkpoints."""

from __future__ import annotations

import json

import pytest

from wx_graphs import build_graph, save_graph
from wx_models import save_checkpoint
from wx_models.cli import main
from wx_models.debug import TINY_GRAPH_RECIPE, tiny_weather_model

RECIPE = TINY_GRAPH_RECIPE


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tiny.safetensors"
    metadata = {
        "name": "Tiny test forecaster",
        "licence": "CC-BY-4.0",
        "training": {
            "dataset": "era5-o96",
            "start": "1979-01-01",
            "end": "2018-12-31",
            "config": {"lr": 0.001},
        },
        "validation": {"loss": 0.25, "rmse": {"t_850": 1.1, "q_850": 0.0007}},
    }
    save_checkpoint(path, tiny_weather_model("gnn", grid_shape=[6, 8]), metadata=metadata)
    return path


def test_summary_of_a_recipe_as_json(tmp_path, capsys):
    (tmp_path / "recipe.yaml").write_text(json.dumps(RECIPE))  # JSON is YAML
    status = main(
        [
            "summary",
            "--recipe",
            str(tmp_path / "recipe.yaml"),
            "--variables",
            "3",
            "--forcings",
            "1",
            "--input-steps",
            "2",
            "--latent-size",
            "16",
            "--mlp-hidden-size",
            "16",
            "--processor-layers",
            "2",
            "--json",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["graph"] == {
        "grid_nodes": 84,
        "mesh_nodes": 42,
        "encoder_edges": 162,
        "processor_edges": 300,
        "decoder_edges": 252,
    }
    assert report["sizes"]["input_size"] == 8 and report["sizes"]["output_size"] == 3
    flops = report["flops"]
    assert flops["forward"] == sum(c["forward"] for c in flops["components"].values())
    assert set(report["parameters"]) >= {"encoder", "processor.0", "processor.1", "decoder"}


def test_summary_of_a_graph_file_as_text(tmp_path, capsys):
    save_graph(build_graph(RECIPE), tmp_path / "graph.safetensors")
    assert (
        main(
            [
                "summary",
                "--graph",
                str(tmp_path / "graph.safetensors"),
                "--family",
                "transformer",
                "--heads",
                "4",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "transformer, latent 128, 4 processor layers" in out
    assert "training step (forward + backward):" in out


def test_inspect(checkpoint, capsys):
    assert main(["inspect", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "wx-checkpoint version 1" in out and "checksum: ok" in out
    assert "prognostic: t_850, q_850" in out and "diagnostic: tp" in out
    assert "grid: 48 cells, shape [6, 8]" in out
    assert main(["inspect", str(checkpoint), "--json"]) == 0
    header = json.loads(capsys.readouterr().out)
    assert header["checksum_verified"] is True and header["licence"] == "CC-BY-4.0"


def test_card(checkpoint, tmp_path):
    assert main(["card", str(checkpoint), "-o", str(tmp_path / "card.md")]) == 0
    card = (tmp_path / "card.md").read_text()
    assert card.startswith("# Tiny test forecaster")
    assert "**Licence:** CC-BY-4.0" in card
    assert "| q_850 | prognostic | mean-std | residual (tendency) | >= 0 |" in card
    assert "| lsm | constant | min-max | input only |  |" in card
    assert "- dataset: era5-o96" in card and "- end: 2018-12-31" in card
    assert "| loss | 0.25 |" in card and "| t_850 | 1.1 |" in card
    assert "regular, shape 6 x 8" in card and "edge set `data->hidden`: 144 edges" in card
    assert '"lr": 0.001' in card
    assert "- climatology: []" in card and "- climatology_harmonics: 2" in card


def test_user_errors_exit_with_status_2(checkpoint, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.safetensors")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    data = bytearray(checkpoint.read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    assert main(["card", str(tmp_path / "bad.safetensors")]) == 2
    assert "checksum mismatch" in capsys.readouterr().err
