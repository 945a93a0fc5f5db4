"""The wx checkpoint: one safetensors file with the weights, the graph, the grid and a JSON header.

Tensors (loaded with ``safetensors.torch.load_file``, never unpickled):

- ``weights/<name>``: the model's ``state_dict`` (parameters and normalisation buffers);
- ``graph/nodes/<set>/<field>`` and ``graph/edges/<src>__<dst>/<field>``: the graph as given;
- ``grid/latitudes``, ``grid/longitudes``: the grid coordinates, float64 degrees ``[cell]``.

The header sits under the safetensors metadata key ``"wx"`` (see :mod:`wx_utils.artifacts`):
``format: "wx-checkpoint"``, ``format_version``, ``provenance``, ``model`` (class and the
constructor arguments), ``variables``, ``time_step``, ``input_steps``, ``graph`` and ``grid``
summaries, ``tensors`` summary, the caller's metadata (e.g. ``training``, ``validation``,
``licence``), and ``checksum``: the SHA-256 of the header without the checksum followed by
every tensor's name, dtype, shape and bytes in name order. A file whose bytes changed after
writing is refused. Older format versions are upgraded through :data:`MIGRATIONS`; the design
record is ``docs/design/checkpoint-format.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from wx_models.weather_model import WeatherModel, graph_from_tensors
from wx_utils.artifacts import WX_METADATA_KEY, read_safetensors_header
from wx_utils.metadata import MetadataError, MigrationRegistry, check_header, make_header, to_json
from wx_utils.provenance import provenance as make_provenance

CHECKPOINT_FORMAT = "wx-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
MIGRATIONS = MigrationRegistry()
RESERVED_KEYS = frozenset(
    {
        "format",
        "format_version",
        "model",
        "variables",
        "time_step",
        "input_steps",
        "graph",
        "grid",
        "tensors",
        "checksum",
    }
)


class CheckpointError(MetadataError):
    """A checkpoint that is truncated, altered, of another format or does not fit its model."""


def unwrap(model: nn.Module) -> WeatherModel:
    """The :class:`WeatherModel` inside a compiled or DistributedDataParallel wrapper."""
    seen = model
    for _ in range(4):
        if isinstance(seen, WeatherModel):
            return seen
        seen = getattr(seen, "_orig_mod", None) or getattr(seen, "module", None)
        if seen is None:
            break
    raise TypeError(f"save_checkpoint: expected a WeatherModel, got {type(model).__name__}")


def checksum(metadata: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of the header (without ``checksum``) and every tensor, in name order."""
    digest = hashlib.sha256()
    digest.update(to_json({k: v for k, v in metadata.items() if k != "checksum"}).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(to_json([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def checkpoint_tensors(model: WeatherModel) -> dict[str, torch.Tensor]:
    """Every tensor a checkpoint of ``model`` holds, under its checkpoint name."""
    tensors = {
        f"weights/{name}": value.detach().cpu().contiguous().clone()
        for name, value in model.state_dict().items()
    }
    tensors.update({f"graph/{name}": value for name, value in model.graph_tensors.items()})
    tensors["grid/latitudes"] = model.latitudes.detach().cpu().double().clone()
    tensors["grid/longitudes"] = model.longitudes.detach().cpu().double().clone()
    return tensors


def checkpoint_header(
    model: WeatherModel, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON header of a checkpoint of ``model`` with the caller's ``metadata`` merged in."""
    clash = sorted(RESERVED_KEYS & set(metadata))
    if clash:
        raise ValueError(f"checkpoint metadata: keys {clash} are reserved for the format")
    for key, value in metadata.items():
        try:
            to_json(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"checkpoint metadata[{key!r}] is not JSON ({error})") from None
    caller = dict(metadata)
    record = caller.pop("provenance", None) or make_provenance(timestamp=False)
    graph = model.graph_tensors
    header = make_header(
        format_name=CHECKPOINT_FORMAT,
        format_version=CHECKPOINT_FORMAT_VERSION,
        provenance=record,
        model={
            "class": "WeatherModel",
            "arguments": model.arguments,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        variables={
            "input": model.input_variables,
            "output": model.output_variables,
            "roles": model.layout.roles(),
        },
        time_step=model.time_step,
        input_steps=model.input_steps,
        graph={
            "nodes": {
                k.split("/")[1]: int(v.shape[0])
                for k, v in graph.items()
                if k.startswith("nodes/") and k.endswith("/x")
            },
            "edges": {
                k.split("/")[1].replace("__", "->"): int(v.shape[1])
                for k, v in graph.items()
                if k.startswith("edges/") and k.endswith("/edge_index")
            },
        },
        grid={"cells": model.num_cells, "shape": model.arguments["grid_shape"]},
        tensors={
            "count": len(tensors),
            "bytes": sum(t.numel() * t.element_size() for t in tensors.values()),
        },
        **caller,
    )
    header["checksum"] = {"algorithm": "sha256", "value": checksum(header, tensors)}
    return header


def save_checkpoint(path: str | Path, model: nn.Module, *, metadata: dict[str, Any]) -> Path:
    """Write ``model`` and ``metadata`` to the safetensors file ``path`` (atomically).

    ``metadata`` is any JSON-serialisable mapping merged into the header (e.g. ``training``,
    ``validation``, ``licence``, ``name``, ``description``); a ``provenance`` entry replaces the
    default record, which leaves the creation time out so equal models give equal bytes.
    """
    path = Path(path)
    weather_model = unwrap(model)
    tensors = checkpoint_tensors(weather_model)
    header = checkpoint_header(weather_model, tensors, metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata={WX_METADATA_KEY: to_json(header)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _stored_header(path: Path) -> dict[str, Any]:
    """The ``wx`` header as stored, after checking the file is complete."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        table = read_safetensors_header(path, require_complete=True)
    except MetadataError as error:
        raise CheckpointError(str(error)) from None
    try:
        stored = json.loads(table["__metadata__"][WX_METADATA_KEY])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: not a wx checkpoint (header: {error!r})") from None
    check_header(stored, format_name=CHECKPOINT_FORMAT, source=str(path))
    return stored


def read_checkpoint_metadata(path: str | Path) -> dict[str, Any]:
    """The header of the checkpoint at ``path``, upgraded to the current format version."""
    path = Path(path)
    return MIGRATIONS.upgrade(
        _stored_header(path),
        format_name=CHECKPOINT_FORMAT,
        current_version=CHECKPOINT_FORMAT_VERSION,
        source=str(path),
    )


def read_checkpoint_tensors(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The stored header and all tensors of ``path``, after verifying the checksum."""
    path = Path(path)
    stored = _stored_header(path)
    try:
        tensors = load_file(path)
    except SafetensorError as error:
        raise CheckpointError(f"{path}: unreadable safetensors data ({error})") from None
    recorded = (stored.get("checksum") or {}).get("value")
    if recorded is None:
        raise CheckpointError(f"{path}: the header has no checksum")
    if checksum(stored, tensors) != recorded:
        raise CheckpointError(
            f"{path}: checksum mismatch: the file was altered or corrupted after it was written"
        )
    return stored, tensors


def load_checkpoint(path: str | Path) -> tuple[WeatherModel, dict[str, Any]]:
    """The model (on CPU, in eval mode) and the upgraded header of the checkpoint at ``path``."""
    path = Path(path)
    metadata = read_checkpoint_metadata(path)  # refuses newer versions before reading tensors
    _, tensors = read_checkpoint_tensors(path)
    graph = graph_from_tensors(
        {
            name[len("graph/") :]: value
            for name, value in tensors.items()
            if name.startswith("graph/")
        }
    )
    try:
        model = WeatherModel(
            graph=graph,
            latitudes=tensors["grid/latitudes"],
            longitudes=tensors["grid/longitudes"],
            **metadata["model"]["arguments"],
        )
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: cannot rebuild the model ({error!r})") from None
    weights = {
        name[len("weights/") :]: value
        for name, value in tensors.items()
        if name.startswith("weights/")
    }
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the model: {error}") from None
    return model.eval(), metadata
