"""Loading and describing inference checkpoints safely.

A checkpoint is one safetensors file (weights, graph and grid as tensors; everything else JSON
under the metadata key ``wx``), loaded by ``wx_models.load_checkpoint``: nothing is unpickled,
a truncated file or one whose bytes changed after writing (SHA-256 checksum over header and
tensors) is refused with an error naming the file, and older format versions are upgraded by
wx-models' migrations. ``inspect`` reads only the header.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wx_inference.model_spec import ModelSpec, spec_from_checkpoint
from wx_utils.provenance import file_sha256

LOG = logging.getLogger(__name__)
ROLES = ("prognostic", "forcing", "constant", "diagnostic")


class CheckpointNotFoundError(FileNotFoundError):
    """No checkpoint file at the given path."""


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A model loaded from a checkpoint, its metadata and where it came from."""

    path: Path
    sha256: str
    model: Any  # wx_models.WeatherModel
    metadata: dict[str, Any]
    spec: ModelSpec

    def link(self) -> dict[str, Any]:
        """What a forecast records about its checkpoint (path + SHA-256 + format version)."""
        return {
            "path": str(self.path.resolve()),
            "sha256": self.sha256,
            "format_version": self.metadata.get("format_version"),
            "checksum": (self.metadata.get("checksum") or {}).get("value"),
            "provenance": self.metadata.get("provenance"),
        }


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        what = "is a directory, expected a .safetensors file" if path.is_dir() else "no such file"
        raise CheckpointNotFoundError(f"checkpoint {path}: {what}")
    return path


def open_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Load a checkpoint (header, checksum, weights) with ``wx_models.load_checkpoint``."""
    import wx_models

    path = _existing(path)
    model, metadata = wx_models.load_checkpoint(path)
    LOG.info("loaded %s (format version %s)", path, metadata.get("format_version"))
    return LoadedCheckpoint(
        path=path,
        sha256=file_sha256(path),
        model=model,
        metadata=metadata,
        spec=spec_from_checkpoint(model, metadata),
    )


def describe_checkpoint(path: str | Path) -> dict[str, Any]:
    """What ``inspect`` prints: read from the header only (no weights are loaded)."""
    import wx_models
    from wx_models.checkpoint import RESERVED_KEYS

    path = _existing(path)
    metadata = wx_models.read_checkpoint_metadata(path)
    model = metadata.get("model", {})
    arguments = model.get("arguments", {})
    variables = metadata.get("variables", {})
    role_of = variables.get("roles") or {}
    ordered = dict.fromkeys([*variables.get("input", []), *variables.get("output", []), *role_of])
    roles: dict[str, list[str]] = {role: [] for role in ROLES}
    for name in ordered:  # the model's input then output order, not the header's sorted keys
        roles[role_of.get(name, "unknown")] = [*roles.get(role_of.get(name, "unknown"), []), name]
    roles = {role: names for role, names in roles.items() if names}
    return {
        "path": str(path),
        "sha256": file_sha256(path),
        "format_version": metadata.get("format_version"),
        "variables": roles,
        "time_step": metadata.get("time_step"),
        "input_steps": metadata.get("input_steps"),
        "grid": metadata.get("grid"),
        "graph": metadata.get("graph"),
        "architecture": {
            key: arguments.get(key)
            for key in (
                "family",
                "latent_size",
                "processor_layers",
                "mlp_hidden_size",
                "heads",
                "trainable_features",
                "cell_readout",
                "cell_stencil",
                "climatology",
                "climatology_harmonics",
            )
        },
        "parameters": model.get("parameters"),
        "tensors": metadata.get("tensors"),
        "provenance": metadata.get("provenance"),
        "extra": sorted(set(metadata) - RESERVED_KEYS - {"provenance"}),
    }


def format_description(description: dict[str, Any]) -> str:
    """A short human-readable account of :func:`describe_checkpoint`."""
    lines = [
        f"{description['path']}: wx checkpoint, format version {description['format_version']}",
        f"  sha256: {description['sha256']}",
    ]
    for role, names in description["variables"].items():
        lines.append(f"  {role}: {', '.join(names)}")
    lines.append(
        f"  time step: {description['time_step']}, input steps: {description['input_steps']}"
    )
    grid = description.get("grid") or {}
    lines.append(f"  grid: {grid.get('cells')} cells, shape {grid.get('shape') or 'unstructured'}")
    graph = description.get("graph") or {}
    nodes = ", ".join(f"{k} {v}" for k, v in (graph.get("nodes") or {}).items())
    edges = ", ".join(f"{k} {v}" for k, v in (graph.get("edges") or {}).items())
    lines.append(f"  graph: nodes {nodes}; edges {edges}")
    architecture = ", ".join(f"{k} {v}" for k, v in description["architecture"].items())
    lines.append(f"  model: {architecture}; {description['parameters']} parameters")
    versions = (description.get("provenance") or {}).get("wx") or {}
    if versions:
        lines.append(f"  made with: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}")
    if description["extra"]:
        lines.append(f"  other metadata: {', '.join(description['extra'])}")
    return "\n".join(lines)
