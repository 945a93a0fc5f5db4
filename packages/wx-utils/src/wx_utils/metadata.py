"""Versioned JSON metadata for wx artifacts, with step-by-step migrations.

Every artifact carries a header ``{"format": NAME, "format_version": N, "provenance": {...}, ...}``.
Readers register migrations ``N -> N+1`` per format; :func:`upgrade` applies them in order, so a
newer reader opens every older artifact, and an artifact newer than the reader gives an error
naming both versions (the reader must be upgraded, not the file).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class MetadataError(ValueError):
    """Artifact metadata that is missing, malformed, of another format or of an unknown version."""


class MigrationRegistry:
    """Migrations per format name: ``register(format, from_version)`` upgrades to ``from + 1``."""

    def __init__(self) -> None:
        self._migrations: dict[str, dict[int, Migration]] = {}

    def register(self, format_name: str, from_version: int) -> Callable[[Migration], Migration]:
        def decorator(function: Migration) -> Migration:
            steps = self._migrations.setdefault(format_name, {})
            if from_version in steps:
                raise ValueError(f"{format_name}: a migration from version {from_version} exists")
            steps[from_version] = function
            return function

        return decorator

    def upgrade(
        self, metadata: dict[str, Any], *, format_name: str, current_version: int, source: str = ""
    ) -> dict[str, Any]:
        """``metadata`` migrated to ``current_version``; errors name ``source`` and versions."""
        where = f"{source}: " if source else ""
        check_header(metadata, format_name=format_name, source=source)
        version = metadata["format_version"]
        if version > current_version:
            raise MetadataError(
                f"{where}{format_name} format version {version} is newer than this reader "
                f"understands (version {current_version}); upgrade the wx package that reads it"
            )
        steps = self._migrations.get(format_name, {})
        upgraded = dict(metadata)
        while upgraded["format_version"] < current_version:
            step = upgraded["format_version"]
            if step not in steps:
                raise MetadataError(
                    f"{where}no migration registered for {format_name} format version {step} "
                    f"to {step + 1}"
                )
            upgraded = steps[step](dict(upgraded))
            upgraded["format_version"] = step + 1
        return upgraded


REGISTRY = MigrationRegistry()


def make_header(
    *, format_name: str, format_version: int, provenance: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """The metadata header of an artifact, with extra ``fields`` merged in."""
    if not isinstance(format_version, int) or format_version < 1:
        raise MetadataError(f"format_version {format_version!r}: expected an integer >= 1")
    return {
        "format": format_name,
        "format_version": format_version,
        "provenance": provenance,
        **fields,
    }


def check_header(metadata: Any, *, format_name: str | None = None, source: str = "") -> None:
    """Raise :class:`MetadataError` unless ``metadata`` has a valid header (of ``format_name``)."""
    where = f"{source}: " if source else ""
    if not isinstance(metadata, dict):
        raise MetadataError(f"{where}metadata must be a JSON object, got {type(metadata).__name__}")
    for key in ("format", "format_version"):
        if key not in metadata:
            raise MetadataError(f"{where}metadata lacks the key {key!r}")
    version = metadata["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MetadataError(f"{where}format_version {version!r}: expected an integer >= 1")
    if format_name is not None and metadata["format"] != format_name:
        raise MetadataError(
            f"{where}expected a {format_name!r} artifact, found format {metadata['format']!r}"
        )


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_metadata(path: str | Path, metadata: dict[str, Any]) -> None:
    """Write a metadata header as indented, key-sorted JSON, atomically."""
    check_header(metadata, source=str(path))
    atomic_write_text(
        path, json.dumps(metadata, indent=2, sort_keys=True, default=_jsonable) + "\n"
    )


def read_metadata(
    path: str | Path,
    *,
    format_name: str | None = None,
    current_version: int | None = None,
    registry: MigrationRegistry = REGISTRY,
) -> dict[str, Any]:
    """Read a metadata JSON file; with ``current_version``, upgrade it through ``registry``."""
    path = Path(path)
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetadataError(f"{path}: no such metadata file") from None
    except json.JSONDecodeError as error:
        raise MetadataError(f"{path}: not valid JSON ({error})") from None
    check_header(metadata, format_name=format_name, source=str(path))
    if current_version is not None:
        metadata = registry.upgrade(
            metadata,
            format_name=metadata["format"],
            current_version=current_version,
            source=str(path),
        )
    return metadata


def _jsonable(value: Any) -> Any:
    """Fallback JSON encoding for numpy scalars and arrays and paths."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any) -> str:
    """Compact, key-sorted JSON that also accepts numpy values (deterministic bytes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)
