import json

import pytest

from wx_utils.artifacts import read_artifact_metadata, read_safetensors_header
from wx_utils.metadata import (
    MetadataError,
    MigrationRegistry,
    make_header,
    read_metadata,
    to_json,
    write_metadata,
)


def _registry():
    registry = MigrationRegistry()

    @registry.register("wx-thing", 1)
    def rename_field(meta):
        meta["variables"] = meta.pop("names")
        return meta

    @registry.register("wx-thing", 2)
    def add_units(meta):
        meta["units"] = dict.fromkeys(meta["variables"], "K")
        return meta

    return registry


def test_write_then_read_round_trips(tmp_path):
    header = make_header(format_name="wx-thing", format_version=3, provenance={"a": 1}, x=[1, 2])
    write_metadata(tmp_path / "m.json", header)
    assert read_metadata(tmp_path / "m.json", format_name="wx-thing") == header


def test_migrations_apply_step_by_step(tmp_path):
    old = make_header(format_name="wx-thing", format_version=1, provenance={}, names=["t", "z"])
    write_metadata(tmp_path / "old.json", old)
    new = read_metadata(tmp_path / "old.json", current_version=3, registry=_registry())
    assert new["format_version"] == 3
    assert new["variables"] == ["t", "z"]
    assert new["units"] == {"t": "K", "z": "K"}
    assert "names" not in new


def test_newer_version_than_reader_names_both_versions(tmp_path):
    write_metadata(
        tmp_path / "m.json", make_header(format_name="wx-thing", format_version=5, provenance={})
    )
    with pytest.raises(MetadataError, match=r"version 5 is newer .* \(version 3\)"):
        read_metadata(tmp_path / "m.json", current_version=3, registry=_registry())


def test_missing_migration_step_is_reported():
    registry = MigrationRegistry()
    meta = make_header(format_name="wx-other", format_version=1, provenance={})
    with pytest.raises(MetadataError, match="no migration .* version 1 to 2"):
        registry.upgrade(meta, format_name="wx-other", current_version=2)


def test_duplicate_migration_is_refused():
    registry = _registry()
    with pytest.raises(ValueError, match="exists"):
        registry.register("wx-thing", 1)(lambda m: m)


def test_wrong_format_and_bad_headers(tmp_path):
    write_metadata(
        tmp_path / "m.json", make_header(format_name="wx-graph", format_version=1, provenance={})
    )
    with pytest.raises(MetadataError, match="expected a 'wx-dataset' artifact"):
        read_metadata(tmp_path / "m.json", format_name="wx-dataset")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(MetadataError, match="not valid JSON"):
        read_metadata(tmp_path / "bad.json")
    (tmp_path / "nokey.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(MetadataError, match="format_version"):
        read_metadata(tmp_path / "nokey.json")
    with pytest.raises(MetadataError, match="no such metadata file"):
        read_metadata(tmp_path / "absent.json")
    with pytest.raises(MetadataError, match="integer"):
        make_header(format_name="x", format_version=0, provenance={})


def test_to_json_is_deterministic_and_handles_numpy():
    import numpy as np

    assert to_json({"b": np.float32(1.5), "a": np.arange(3)}) == '{"a":[0,1,2],"b":1.5}'


def _write_safetensors(path, metadata):
    header = {"__metadata__": metadata, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\x00\x00\x80\x3f")


def test_artifact_metadata_from_safetensors_zarr_and_json(tmp_path):
    header = make_header(format_name="wx-graph", format_version=1, provenance={"p": 1})
    _write_safetensors(tmp_path / "g.safetensors", {"wx": json.dumps(header)})
    assert read_artifact_metadata(tmp_path / "g.safetensors") == header
    assert read_safetensors_header(tmp_path / "g.safetensors")["x"]["shape"] == [1]

    store = tmp_path / "d.zarr"
    store.mkdir()
    dataset = make_header(format_name="wx-dataset", format_version=1, provenance={})
    (store / "zarr.json").write_text(json.dumps({"attributes": {"wx": dataset}}))
    assert read_artifact_metadata(store) == dataset

    write_metadata(tmp_path / "m.json", header)
    assert read_artifact_metadata(tmp_path / "m.json") == header


def test_artifact_metadata_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_artifact_metadata(tmp_path / "absent")
    (tmp_path / "short.safetensors").write_bytes(b"\x01")
    with pytest.raises(MetadataError, match="too short"):
        read_artifact_metadata(tmp_path / "short.safetensors")
    (tmp_path / "trunc.safetensors").write_bytes((1000).to_bytes(8, "little") + b"{}")
    with pytest.raises(MetadataError, match="truncated"):
        read_artifact_metadata(tmp_path / "trunc.safetensors")
    _write_safetensors(tmp_path / "plain.safetensors", {"other": "1"})
    with pytest.raises(MetadataError, match="no 'wx' metadata"):
        read_artifact_metadata(tmp_path / "plain.safetensors")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(MetadataError, match="without zarr.json"):
        read_artifact_metadata(tmp_path / "empty_dir")
