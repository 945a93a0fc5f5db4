"""Compare two dataset stores: description, coordinates, statistics and every field.

Differences are listed in words (``variable 't_850' at 2017-01-01T12:00:00: max |a - b| = 0.5``);
two stores built from the same inputs are identical, whatever their provenance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wx_datasets.open import open_dataset
from wx_utils.dates import to_iso
from wx_utils.progress import progress

DESCRIPTION_KEYS = (
    "variables",
    "ensemble_size",
    "frequency",
    "start",
    "end",
    "missing_dates",
    "grid",
)


def compare_datasets(first: str | Path, second: str | Path, *, tolerance: float = 0.0) -> list[str]:
    """Differences between two complete stores (empty when equal within ``tolerance``)."""
    a = open_dataset(first, missing="skip")
    b = open_dataset(second, missing="skip")
    differences = [
        f"{key}: {a.metadata.get(key)!r} != {b.metadata.get(key)!r}"
        for key in DESCRIPTION_KEYS
        if a.metadata.get(key) != b.metadata.get(key)
    ]
    if a.shape != b.shape:
        return [*differences, f"shape: {a.shape} != {b.shape}"]
    for name in ("latitudes", "longitudes"):
        if not np.array_equal(getattr(a, name), getattr(b, name)):
            differences.append(f"{name} differ")
    for group in ("statistics", "statistics_tendencies"):
        for key, values in getattr(a, group).items():
            other = getattr(b, group)[key]
            for v in np.flatnonzero(~np.isclose(values, other, rtol=1e-12, atol=0, equal_nan=True)):
                differences.append(
                    f"{group} {key} of {a.variables[v]!r}: {values[v]!r} != {other[v]!r}"
                )
    differences += _compare_fields(a, b, tolerance)
    if a.metadata.get("checksum") != b.metadata.get("checksum"):
        differences.append(
            f"checksum: {a.metadata.get('checksum')} != {b.metadata.get('checksum')}"
        )
    return differences


def _compare_fields(a, b, tolerance: float) -> list[str]:
    differences = []
    for t in progress(range(len(a)), description="comparing", unit="date"):
        x, y = a[t], b[t]
        same_nan = np.isnan(x) == np.isnan(y)
        gap = np.where(same_nan, np.abs(np.nan_to_num(x) - np.nan_to_num(y)), np.inf)
        worst = gap.reshape(gap.shape[0], -1).max(axis=1)  # [variable]
        for v in np.flatnonzero(worst > tolerance):
            differences.append(
                f"variable {a.variables[v]!r} at {to_iso(a.dates[t])}: max |a - b| = {worst[v]:g}"
            )
            if len(differences) >= 50:
                return [*differences, "... (stopped after 50 differences)"]
    return differences
