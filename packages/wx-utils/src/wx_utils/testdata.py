"""Locate the real meteorological files in ``../shared/data`` for tests, examples and benchmarks.

``$WX_SHARED_DATA`` overrides the location; otherwise the ``shared/data`` folder beside the
repository checkout (found by walking up from the current directory) is used. The files are never
copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path | None:
    """The shared data folder, or None where it cannot be found."""
    if "WX_SHARED_DATA" in os.environ:
        folder = Path(os.environ["WX_SHARED_DATA"])
        return folder if folder.is_dir() else None
    here = Path.cwd().resolve()
    for parent in (here, *here.parents):
        candidate = parent.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def shared_data_file(name: str) -> Path:
    """Path of ``name`` in the shared data folder; FileNotFoundError (with the reason) if absent."""
    folder = shared_data_dir()
    if folder is None:
        raise FileNotFoundError(
            "shared data folder not found: set WX_SHARED_DATA or place shared/data beside the checkout"
        )
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: shared data file missing")
    return path
