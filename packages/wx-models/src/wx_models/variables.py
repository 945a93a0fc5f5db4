"""Variables and their roles, and the fixed order of the model's inputs and outputs.

Roles follow the dataset contract's ``kind``: ``prognostic`` (input and output), ``forcing``
(input only, known in advance, e.g. insolation), ``constant`` (input only, static, e.g.
orography) and ``diagnostic`` (output only, e.g. precipitation). The order is fixed:

    input variables  = prognostic + forcing + constant
    output variables = prognostic + diagnostic

each part in the order the caller listed the variables, so the first ``len(prognostic)``
inputs and outputs are the same variables (what :func:`wx_models.advance_history` relies on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ROLES = ("prognostic", "forcing", "diagnostic", "constant")
STATISTICS = ("mean", "stdev", "minimum", "maximum", "tendency_mean", "tendency_stdev")


class VariableError(ValueError):
    """A variable that is unknown, listed twice, has an unknown role or lacks a statistic."""


@dataclass(frozen=True)
class VariableLayout:
    """Variable names per role, in the caller's order."""

    prognostic: tuple[str, ...]
    forcing: tuple[str, ...]
    diagnostic: tuple[str, ...]
    constant: tuple[str, ...]

    @classmethod
    def from_roles(cls, variables: Mapping[str, str] | Sequence[Sequence[str]]) -> VariableLayout:
        """The layout of ``{name: role}`` or ``[(name, role), ...]``; roles among :data:`ROLES`."""
        pairs = variable_pairs(variables)
        groups: dict[str, list[str]] = {role: [] for role in ROLES}
        for name, role in pairs:
            if not isinstance(name, str) or not name:
                raise VariableError(f"variables: name {name!r} must be a non-empty string")
            if role not in groups:
                raise VariableError(
                    f"variables[{name!r}]: role {role!r} is not one of {', '.join(ROLES)}"
                )
            groups[role].append(name)
        if not groups["prognostic"]:
            raise VariableError("variables: at least one prognostic variable is needed")
        return cls(**{role: tuple(names) for role, names in groups.items()})

    @property
    def input_variables(self) -> list[str]:
        return [*self.prognostic, *self.forcing, *self.constant]

    @property
    def output_variables(self) -> list[str]:
        return [*self.prognostic, *self.diagnostic]

    def roles(self) -> dict[str, str]:
        """``{name: role}`` in input-then-diagnostic order."""
        return {name: role for role in ROLES for name in getattr(self, role)}


def variable_pairs(variables: Mapping[str, str] | Sequence[Sequence[str]]) -> list[list[str]]:
    """``[[name, role], ...]`` in the given order (the JSON form: mappings lose their order)."""
    if isinstance(variables, Mapping):
        pairs = [[name, role] for name, role in variables.items()]
    elif isinstance(variables, Sequence) and not isinstance(variables, str):
        pairs = [list(pair) for pair in variables]
        if any(len(pair) != 2 for pair in pairs):
            raise VariableError("variables: expected (name, role) pairs")
    else:
        pairs = []
    if not pairs:
        raise VariableError("variables: expected a non-empty mapping {name: role}")
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise VariableError(f"variables: {repeated} listed more than once")
    return pairs


def statistics_from_arrays(
    variables: Sequence[str],
    statistics: Mapping[str, np.ndarray],
    statistics_tendencies: Mapping[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Per-variable statistics from a dataset view's arrays (``view.statistics`` etc.).

    ``statistics`` holds ``mean``, ``stdev``, ``minimum``, ``maximum`` ``[variable]`` and
    ``statistics_tendencies`` ``mean``, ``stdev`` ``[variable]``, both in ``variables`` order.
    """
    result: dict[str, dict[str, float]] = {name: {} for name in variables}
    sources = [(statistics, "")]
    if statistics_tendencies is not None:
        sources.append((statistics_tendencies, "tendency_"))
    for arrays, prefix in sources:
        for key, values in arrays.items():
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (len(variables),):
                raise VariableError(
                    f"statistics {prefix}{key}: expected shape ({len(variables)},) "
                    f"(one value per variable), got {values.shape}"
                )
            for name, value in zip(variables, values, strict=True):
                result[name][prefix + key] = float(value)
    return result


def statistic(statistics: Mapping[str, Mapping[str, float]], name: str, key: str) -> float:
    """``statistics[name][key]`` as a finite float, or a :class:`VariableError` naming both."""
    if name not in statistics:
        raise VariableError(f"statistics: no entry for variable {name!r}")
    if key not in statistics[name]:
        raise VariableError(f"statistics[{name!r}]: the statistic {key!r} is missing")
    value = float(statistics[name][key])
    if not np.isfinite(value):
        raise VariableError(f"statistics[{name!r}][{key!r}] is {value}: expected a finite number")
    return value
