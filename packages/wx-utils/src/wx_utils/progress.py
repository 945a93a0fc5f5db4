"""The one progress helper every long-running wx command uses (a bar with rate and ETA)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    """Bars are shown unless ``WX_PROGRESS=0`` (e.g. in batch logs)."""
    return os.environ.get("WX_PROGRESS", "1") not in ("0", "false", "no")


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    description: str = "",
    unit: str = "it",
    disable: bool | None = None,
) -> Iterator[T] | tqdm:
    """Wrap ``iterable`` (or make a manual bar with ``total``) showing rate and ETA on stderr."""
    return tqdm(
        iterable,
        total=total,
        desc=description,
        unit=unit,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
        disable=(not progress_enabled()) if disable is None else disable,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
        "[{elapsed}<{remaining}, {rate_fmt}{postfix}]",
    )
