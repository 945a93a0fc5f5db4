"""Per-variable statistics in float64, merged date by date with Chan et al.'s parallel update.

Each date contributes partial moments per variable: count, mean and M2 (sum of squared
deviations from the date's mean), minimum and maximum, and the same moments of the tendency
``x[t] - x[t-1]`` at the dataset frequency. Partials are merged in date order with

    n = n_a + n_b,  delta = mean_b - mean_a,  mean = mean_a + delta * n_b / n,
    M2 = M2_a + M2_b + delta**2 * n_a * n_b / n

(Chan, Golub & LeVeque 1979; Welford 1962 is the case n_b = 1), which stays accurate where the
textbook ``E[x^2] - E[x]^2`` loses all digits. Because the merge order is always the date order,
the result does not depend on how dates were split into tasks or parts. ``stdev`` is the
population standard deviation ``sqrt(M2 / n)``. NaNs (where allowed) are left out of the counts.

Within a date, M2 comes from float64 sums of the data shifted by a sampled mean K,
``M2 = S2 - S1**2 / n`` with ``S_k = sum((x - K)**k)`` (the shifted-data algorithm of Chan,
Golub & LeVeque 1983), and the tendency's sums from ``S1``, ``S2`` of both dates and one cross
product, so a date is read from memory about four times instead of ten.
"""

from __future__ import annotations

import warnings

import numpy as np

FIELDS = (
    "count",
    "mean",
    "m2",
    "minimum",
    "maximum",
    "tendency_count",
    "tendency_mean",
    "tendency_m2",
)
ROW = {name: index for index, name in enumerate(FIELDS)}


def moments(values: np.ndarray, *, extremes: bool = True) -> np.ndarray:
    """Count, mean, M2, minimum, maximum over the last axis, NaNs left out: float64 ``[5, ...]``.

    The path for dates holding NaNs (where the policy allows them): two passes in float64, the
    mean first and then the squared deviations from it.
    """
    finite = ~np.isnan(values)
    count = finite.sum(axis=-1).astype(np.float64)
    deviation = np.where(finite, values, 0).astype(np.float64)
    mean = deviation.sum(axis=-1) / np.maximum(count, 1)
    deviation -= mean[..., None]
    deviation[~finite] = 0.0
    out = np.empty((5, *values.shape[:-1]))
    out[0], out[1] = count, mean
    out[2] = np.einsum("...i,...i->...", deviation, deviation)
    if extremes:
        out[3], out[4] = _extreme(values, np.fmin, np.inf), _extreme(values, np.fmax, -np.inf)
    return out


def _extreme(values: np.ndarray, function, empty: float) -> np.ndarray:
    """fmin/fmax ignoring NaNs, ``empty`` where everything is NaN."""
    result = function.reduce(values, axis=-1)
    return np.where(np.isnan(result), empty, result)


class _Deviations:
    """One date's fields as float64 deviations from a shift (a sampled mean), with their sums.

    The shift depends on the date's values only, so partials do not depend on how dates were
    split into blocks.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = values  # [variable, member * cell] float32
        step = max(1, values.shape[-1] // 1024)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples
            shift = np.nan_to_num(np.nanmean(values[:, ::step], axis=-1, dtype=np.float64))
        self.deviation = values.astype(np.float64)
        self.deviation -= shift[:, None]  # exact: float32 values are exact in float64
        self.sum = self.deviation.sum(axis=-1)
        self.finite = bool(np.all(np.isfinite(self.sum)))  # NaN anywhere makes its sum NaN
        if self.finite:
            self.squares = np.einsum("ij,ij->i", self.deviation, self.deviation)
            self.shift = shift

    def moments(self) -> np.ndarray:
        """Count, mean, M2, minimum, maximum ``[5, variable]`` (shifted-data algorithm)."""
        count = self.values.shape[-1]
        return np.stack(
            [
                np.full(self.sum.shape, float(count)),
                self.shift + self.sum / count,
                np.maximum(self.squares - self.sum * self.sum / count, 0.0),
                self.values.min(axis=-1),
                self.values.max(axis=-1),
            ]
        )

    def tendency_from(self, before: _Deviations) -> np.ndarray:
        """Count, mean, M2 ``[3, variable]`` of ``d = self - before`` from sums and one cross term.

        With deviations a = x - K, b = x' - K' and c = K - K': d = a - b + c, so
        sum(d) = S1 - S1' + n c and sum(d^2) = S2 + S2' - 2 sum(a b) + 2 c (S1 - S1') + n c^2.
        """
        count = self.values.shape[-1]
        cross = np.einsum("ij,ij->i", self.deviation, before.deviation)
        offset = self.shift - before.shift
        difference = self.sum - before.sum
        total = difference + count * offset
        squares = self.squares + before.squares - 2.0 * cross
        squares = np.maximum(squares + 2.0 * offset * difference + count * offset * offset, 0.0)
        return np.stack(
            [
                np.full(total.shape, float(count)),
                total / count,
                np.maximum(squares - total * total / count, 0.0),
            ]
        )


def date_partials(
    block: np.ndarray, present: np.ndarray, previous: np.ndarray | None
) -> np.ndarray:
    """Partial statistics of each date of a block: float64 ``[time, field, variable]``.

    ``block`` is float32 ``[time, variable, ensemble, cell]``; ``present[t]`` is False for
    missing dates (their rows stay empty); ``previous`` is the date before the block (None if
    it is missing or there is none), for the first tendency. Dates without NaN take the fast
    path (float64 deviations from a shift, tendencies from sums and a cross product); dates
    with NaN are masked.
    """
    count, variables = block.shape[0], block.shape[1]
    rows = empty_partials(count, variables)
    flat = block.reshape(count, variables, -1)  # [time, variable, member * cell]
    before = None if previous is None else _Deviations(previous.reshape(variables, -1))
    for t in range(count):
        if not present[t]:
            before = None
            continue
        current = _Deviations(flat[t])
        if current.finite:
            rows[t, :5] = current.moments()
        else:
            rows[t, :5] = moments(flat[t])
        if before is not None and before.finite and current.finite:
            rows[t, 5:] = current.tendency_from(before)
        elif before is not None:
            rows[t, 5:] = moments(flat[t] - before.values, extremes=False)[:3]
        before = current
    return rows


def empty_partials(count: int, variables: int) -> np.ndarray:
    rows = np.zeros((count, len(FIELDS), variables))
    rows[:, ROW["minimum"]] = np.inf
    rows[:, ROW["maximum"]] = -np.inf
    return rows


def chan_merge(count_a, mean_a, m2_a, count_b, mean_b, m2_b):
    """Merge two sets of (count, mean, M2) moments, elementwise over variables."""
    total = count_a + count_b
    safe = np.where(total > 0, total, 1.0)
    delta = mean_b - mean_a
    mean = mean_a + delta * count_b / safe
    m2 = m2_a + m2_b + delta * delta * count_a * count_b / safe
    return total, mean, m2


def merge_partials(rows: np.ndarray, *, in_period: np.ndarray) -> dict[str, np.ndarray]:
    """Final statistics from date partials ``[time, field, variable]`` over dates ``in_period``.

    A tendency counts when both its dates are in the period. Returns float64 ``[variable]``
    arrays: mean, stdev, minimum, maximum, tendency_mean, tendency_stdev, and the counts.
    """
    variables = rows.shape[2]
    state = np.zeros((3, variables))
    tendency = np.zeros((3, variables))
    minimum = np.full(variables, np.inf)
    maximum = np.full(variables, -np.inf)
    for t in np.flatnonzero(in_period):
        row = rows[t]
        state = np.stack(chan_merge(*state, *row[0:3]))
        minimum = np.minimum(minimum, row[3])
        maximum = np.maximum(maximum, row[4])
        if t > 0 and in_period[t - 1]:
            tendency = np.stack(chan_merge(*tendency, *row[5:8]))
    return _finish(state, tendency, minimum, maximum)


def _finish(state, tendency, minimum, maximum) -> dict[str, np.ndarray]:
    def stdev(moment):
        return np.where(moment[0] > 0, np.sqrt(moment[2] / np.maximum(moment[0], 1)), np.nan)

    def where_counted(moment, values):
        return np.where(moment[0] > 0, values, np.nan)

    return {
        "mean": where_counted(state, state[1]),
        "stdev": stdev(state),
        "minimum": where_counted(state, minimum),
        "maximum": where_counted(state, maximum),
        "tendency_mean": where_counted(tendency, tendency[1]),
        "tendency_stdev": stdev(tendency),
        "count": state[0],
        "tendency_count": tendency[0],
    }


def constant_fields(statistics: dict[str, np.ndarray], names: list[str]) -> dict[str, list[str]]:
    """Variables with one value everywhere (stdev 0) and those that never change in time."""
    same_value = [
        n
        for n, s, c in zip(names, statistics["stdev"], statistics["count"], strict=True)
        if c > 0 and s == 0
    ]
    same_in_time = [
        n
        for n, s, m, c in zip(
            names,
            statistics["tendency_stdev"],
            statistics["tendency_mean"],
            statistics["tendency_count"],
            strict=True,
        )
        if c > 0 and s == 0 and m == 0
    ]
    return {"constant_value": same_value, "constant_in_time": same_in_time}
