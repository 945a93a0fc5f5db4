"""Provenance records: what made an artifact, where, when and with which software.

Every wx artifact (dataset, graph, checkpoint, forecast) embeds the record returned by
:func:`provenance`. It is plain JSON so it can be stored in zarr attributes, safetensors
metadata or netCDF global attributes, and it never imports optional heavy packages (torch is
looked up through package metadata only).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

WX_PACKAGES = ("wx-utils", "wx-datasets", "wx-graphs", "wx-models", "wx-training", "wx-inference")
KEY_DEPENDENCIES = (
    "numpy",
    "torch",
    "torch-geometric",
    "zarr",
    "xarray",
    "dask",
    "mlflow",
    "hydra-core",
    "safetensors",
    "scipy",
)


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``names`` from package metadata; absent packages are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_state(path: str | Path | None = None) -> dict[str, Any] | None:
    """Commit and dirty flag of the git work tree holding ``path`` (default: cwd), or None."""
    cwd = Path(path) if path is not None else Path.cwd()
    if cwd.is_file():
        cwd = cwd.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def find_lockfile(start: str | Path | None = None) -> Path | None:
    """The nearest ``uv.lock`` in ``start`` or one of its parents."""
    here = Path(start) if start is not None else Path.cwd()
    for folder in (here, *here.resolve().parents):
        candidate = folder / "uv.lock"
        if candidate.is_file():
            return candidate
    return None


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def utc_now() -> str:
    """Current UTC time as ISO 8601 with a ``Z`` suffix, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def provenance(
    config: Any = None, *, where: str | Path | None = None, timestamp: bool = True
) -> dict[str, Any]:
    """A JSON-serialisable record of the software, machine and command that made an artifact.

    ``config`` (any JSON-serialisable value, e.g. a recipe) is stored as given. ``where`` is the
    folder used to look up git state and ``uv.lock`` (default: the current directory).
    ``timestamp=False`` leaves out the creation time and the host, for byte-identical artifacts.
    """
    lockfile = find_lockfile(where)
    record: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wx": package_versions(WX_PACKAGES),
        "dependencies": package_versions(KEY_DEPENDENCIES),
        "git": git_state(where),
        "uv_lock_sha256": file_sha256(lockfile) if lockfile else None,
        "command": list(sys.argv),
    }
    if timestamp:
        record["hostname"] = socket.gethostname()
        record["created"] = utc_now()
    if config is not None:
        record["config"] = config
    return record
