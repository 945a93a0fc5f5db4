"""Small checks of recipe values; every error names the recipe key at fault."""

from __future__ import annotations

import math
from typing import Any

from wx_graphs.errors import GraphRecipeError
from wx_graphs.regions import Area


def check_keys(spec: dict, allowed: set[str], *, key: str) -> None:
    """Raise unless every key of ``spec`` is in ``allowed``."""
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise GraphRecipeError(
            f"{key}: unknown key(s) {unknown}; expected some of {sorted(allowed)}"
        )


def number(value: Any, *, key: str, low: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float, at least (or, ``strict``, above) ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GraphRecipeError(f"{key}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise GraphRecipeError(f"{key}: expected a finite number, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        relation = "greater than" if strict else "at least"
        raise GraphRecipeError(f"{key}: {value!r} must be {relation} {low}")
    return value


def integer(value: Any, *, key: str, low: int) -> int:
    """``value`` as an int of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphRecipeError(f"{key}: expected an integer, got {value!r}")
    if value < low:
        raise GraphRecipeError(f"{key}: {value} must be at least {low}")
    return value


def flag(value: Any, *, key: str) -> bool:
    if not isinstance(value, bool):
        raise GraphRecipeError(f"{key}: expected true or false, got {value!r}")
    return value


def optional_area(spec: dict, *, key: str) -> Area | None:
    return Area.parse(spec["area"], key=f"{key}.area") if "area" in spec else None
