"""The wx-datasets command line: create, finalise, inspect, validate (finding damage), compare."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml
import zarr

from wx_datasets.cli import build_parser, main


@pytest.fixture
def recipe_file(tmp_path, air_recipe):
    path = tmp_path / "air.yaml"
    path.write_text(yaml.safe_dump(air_recipe()))
    return path


def test_create_inspect_validate_compare(tmp_path, recipe_file, air_store, capsys):
    store = tmp_path / "air.zarr"
    assert (
        main(["create", str(recipe_file), str(store), "--block-dates", "16", "--workers", "2"]) == 0
    )
    capsys.readouterr()
    assert main(["inspect", str(store)]) == 0
    text = capsys.readouterr().out
    assert "complete wx dataset" in text
    assert "60 dates x 1 variables x 1 members x 1325 cells" in text
    assert "2013-01-01T00:00:00 to 2013-01-15T18:00:00 every 6h" in text
    assert re.search(r"air +degK +prognostic +273\.\d+ +19\.\d+", text)
    assert "missing dates: none" in text
    assert "chunks: [1, 1, 1, 1325]" in text and "checksum: sha256:" in text
    assert main(["inspect", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["variables"][0]["mean"] == pytest.approx(zarr.open_group(store)["mean"][0])
    assert info["size"]["files"] > 60
    assert main(["validate", str(store)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["compare", str(store), str(air_store)]) == 0
    assert "identical" in capsys.readouterr().out


def test_create_refuses_an_existing_output(tmp_path, recipe_file, air_store, capsys):
    copy = tmp_path / "copy.zarr"
    shutil.copytree(air_store, copy)
    before = (copy / "zarr.json").read_bytes()
    assert main(["create", str(recipe_file), str(copy)]) == 2
    assert "a complete dataset exists; pass --overwrite" in capsys.readouterr().err
    assert (copy / "zarr.json").read_bytes() == before
    assert main(["create", str(recipe_file), str(copy), "--overwrite"]) == 0


def test_parts_and_finalise_commands(tmp_path, recipe_file, capsys):
    store = tmp_path / "parts.zarr"
    assert (
        main(["create", str(recipe_file), str(store), "--part", "1/2", "--block-dates", "16"]) == 0
    )
    assert main(["finalise", str(store)]) == 2
    assert "block(s) of dates are not built yet" in capsys.readouterr().err
    assert main(["inspect", str(store)]) == 0
    assert "INCOMPLETE" in capsys.readouterr().out
    assert main(["validate", str(store)]) == 1
    assert "incomplete build" in capsys.readouterr().out
    assert main(["create", str(recipe_file), str(store), "--part", "2/2"]) == 0
    assert main(["finalise", str(store)]) == 0
    assert "complete, checksum sha256:" in capsys.readouterr().out
    assert main(["create", str(recipe_file), str(store), "--part", "3/2"]) == 2
    assert "--part '3/2': expected 1 <= i <= N" in capsys.readouterr().err
    assert main(["create", str(recipe_file), str(store), "--part", "1/2", "--overwrite"]) == 2
    assert "would let each part wipe the others' work" in capsys.readouterr().err


def test_validate_finds_a_corrupted_and_a_missing_chunk(tmp_path, air_store, capsys):
    store = tmp_path / "damaged.zarr"
    shutil.copytree(air_store, store)
    chunk = store / "data" / "c.7.0.0.0"
    payload = bytearray(chunk.read_bytes())
    payload[-8] ^= 0xFF  # one flipped byte inside the compressed stream
    chunk.write_bytes(bytes(payload))
    (store / "data" / "c.12.0.0.0").unlink()
    assert main(["validate", str(store)]) == 1
    out = capsys.readouterr().out
    assert "date 2013-01-04T00:00:00: chunk missing" in out
    assert "date 2013-01-02T18:00:00:" in out  # the corrupted one: undecodable or a wrong checksum
    assert "statistics not recomputed" in out


def test_validate_finds_altered_statistics_and_checksum(tmp_path, air_store, capsys):
    store = tmp_path / "altered.zarr"
    shutil.copytree(air_store, store)
    root = zarr.open_group(store, mode="r+")
    root["stdev"][0] = root["stdev"][0] * 1.01
    assert main(["validate", str(store)]) == 1
    out = capsys.readouterr().out
    assert "stdev of 'air' is" in out and "content checksum" in out


def test_compare_reports_differences(tmp_path, air_store, capsys):
    store = tmp_path / "changed.zarr"
    shutil.copytree(air_store, store)
    from wx_datasets.chunks import DateChunks

    chunks = DateChunks(store / "data")
    values = np.empty((1, 1, 1325), np.float32)
    chunks.read_into(5, values)
    values[0, 0, 100] += 0.5
    chunks.write(5, values[None], np.array([True]))
    assert main(["compare", str(air_store), str(store)]) == 1
    assert "variable 'air' at 2013-01-02T06:00:00: max |a - b| = 0.5" in capsys.readouterr().out
    assert (
        main(["compare", str(air_store), str(store), "--tolerance", "0.6"]) == 0
    )  # within tolerance


def test_plot_command_when_plotting_is_available():
    plotting = pytest.importorskip("wx_datasets.plotting")
    assert hasattr(plotting, "add_plot_command")
    commands = build_parser()._subparsers._group_actions[0].choices
    assert "plot" in commands
