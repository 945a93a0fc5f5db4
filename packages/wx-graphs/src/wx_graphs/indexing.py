"""Sort-based set operations on integer keys.

``numpy.unique`` in numpy 2.3+ takes a hash-table path that is roughly 40x slower than a sort
on the million-element key arrays graph building produces, so the two operations needed here
are written as one sort plus a comparison of neighbours.
"""

from __future__ import annotations

import numpy as np


def unique_keys(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, ascending."""
    ordered = np.sort(keys)
    if ordered.size == 0:
        return ordered
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def unique_with_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values ascending and, for each key, the position of its value among them."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.empty(ordered.size, dtype=bool)
    if ordered.size:
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(keys.size, dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse
