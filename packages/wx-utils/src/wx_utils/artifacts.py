"""Find and read the metadata header of any wx artifact without importing heavy libraries.

Artifacts and where their header lives:
- zarr v3 stores (datasets, forecasts): the ``wx`` key of the root group's attributes in
  ``zarr.json``;
- safetensors files (graphs, checkpoints): the ``wx`` key of the safetensors ``__metadata__``,
  a JSON string (parsed here from the 8-byte length prefix and JSON header, no torch needed);
- JSON files: the whole file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from wx_utils.metadata import MetadataError, check_header

WX_METADATA_KEY = "wx"
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


def read_safetensors_header(path: str | Path, *, require_complete: bool = False) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor table and ``__metadata__``).

    ``require_complete`` also checks that the file is exactly as long as its tensor table says,
    so a file cut short by an interrupted write (or with bytes appended) is refused.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise MetadataError(f"{path}: {size} bytes, too short to be a safetensors file")
        (length,) = struct.unpack("<Q", prefix)
        if length > _MAX_SAFETENSORS_HEADER:
            raise MetadataError(f"{path}: safetensors header length {length} is implausible")
        raw = handle.read(length)
    if len(raw) < length:
        raise MetadataError(f"{path}: truncated inside the header ({size} bytes on disk)")
    try:
        table = json.loads(raw)
    except json.JSONDecodeError as error:
        raise MetadataError(f"{path}: safetensors header is not valid JSON ({error})") from None
    if require_complete:
        _check_complete(path, table, size=size, header_length=length)
    return table


def _check_complete(path: Path, table: Any, *, size: int, header_length: int) -> None:
    try:
        end = max(
            (entry["data_offsets"][1] for key, entry in table.items() if key != "__metadata__"),
            default=0,
        )
    except (AttributeError, KeyError, IndexError, TypeError) as error:
        raise MetadataError(f"{path}: malformed safetensors tensor table ({error!r})") from None
    expected = 8 + header_length + end
    if size < expected:
        raise MetadataError(
            f"{path}: truncated: {size} bytes on disk, the header describes {expected}"
        )
    if size > expected:
        raise MetadataError(f"{path}: {size - expected} unexpected bytes after the tensors")


def read_artifact_metadata(path: str | Path) -> dict[str, Any]:
    """The wx metadata header of the artifact at ``path`` (zarr store, safetensors or JSON)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        metadata = _zarr_metadata(path)
    elif path.suffix == ".json":
        metadata = json.loads(path.read_text(encoding="utf-8"))
    else:
        metadata = _safetensors_metadata(path)
    check_header(metadata, source=str(path))
    return metadata


def _zarr_metadata(path: Path) -> dict[str, Any]:
    root = path / "zarr.json"
    if not root.is_file():
        raise MetadataError(f"{path}: a directory without zarr.json is not a wx zarr store")
    attributes = json.loads(root.read_text(encoding="utf-8")).get("attributes", {})
    if WX_METADATA_KEY not in attributes:
        raise MetadataError(f"{path}: zarr store has no {WX_METADATA_KEY!r} attribute")
    return attributes[WX_METADATA_KEY]


def _safetensors_metadata(path: Path) -> dict[str, Any]:
    header = read_safetensors_header(path)
    extra = header.get("__metadata__") or {}
    if WX_METADATA_KEY not in extra:
        raise MetadataError(f"{path}: safetensors file has no {WX_METADATA_KEY!r} metadata")
    try:
        return json.loads(extra[WX_METADATA_KEY])
    except json.JSONDecodeError as error:
        raise MetadataError(f"{path}: {WX_METADATA_KEY!r} metadata is not JSON ({error})") from None
