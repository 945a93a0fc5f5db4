"""Inputs made of other inputs: ``join`` (variables side by side) and ``concat`` (in time).

A join needs every input on the same grid with the dates asked for; inputs with one ensemble
member are repeated to the ensemble size of the others. A concat needs the same variables and
grid in each input and dates that do not overlap.
"""

from __future__ import annotations

import numpy as np

from wx_datasets.errors import DateMismatchError, RecipeError, SourceError
from wx_datasets.fields import Source
from wx_datasets.grids import check_same_grid
from wx_datasets.recipe import Section
from wx_datasets.sources import OpenContext, open_source, register_source
from wx_utils.dates import to_iso


def _common_ensemble(sources: list[Source], label: str) -> int:
    sizes = {s.ensemble_size for s in sources} - {1}
    if len(sizes) > 1:
        detail = ", ".join(f"{s.label}: {s.ensemble_size}" for s in sources)
        raise SourceError(f"{label}: inputs have different ensemble sizes ({detail})")
    return sizes.pop() if sizes else 1


class JoinSource(Source):
    """Variables of several inputs on one grid, in input order."""

    def __init__(self, sources: list[Source], *, label: str) -> None:
        if not sources:
            raise SourceError(f"{label}: a join needs at least one input")
        self.label = label
        self._sources = sources
        self.grid = sources[0].grid
        for other in sources[1:]:
            check_same_grid(
                sources[0].grid, other.grid, first_label=sources[0].label, second_label=other.label
            )
        self.ensemble_size = _common_ensemble(sources, label)
        seen: dict[str, str] = {}
        for source in sources:
            for name in source.names:
                if name in seen:
                    raise SourceError(
                        f"{label}: variable {name!r} is in both {seen[name]} and {source.label}; "
                        "rename one of them with 'rename'"
                    )
                seen[name] = source.label
        self.variables = tuple(v for s in sources for v in s.variables)
        timed = [s.dates for s in sources if s.dates is not None]
        self.dates = timed[0] if timed else None
        for dates in timed[1:]:
            self.dates = np.intersect1d(self.dates, dates)

    def load(self, dates: np.ndarray) -> np.ndarray:
        blocks = []
        for source in self._sources:
            block = source.load(dates)  # [time, variable, ensemble, cell]
            if block.shape[2] != self.ensemble_size:
                block = np.broadcast_to(
                    block, (*block.shape[:2], self.ensemble_size, block.shape[3])
                )
            blocks.append(block)
        return np.concatenate(blocks, axis=1)

    def positions(self, dates: np.ndarray) -> np.ndarray:
        for source in self._sources:
            source.positions(dates)  # each names itself in its error
        return super().positions(dates)


class ConcatSource(Source):
    """The same variables from several inputs covering successive periods."""

    def __init__(self, sources: list[Source], *, label: str) -> None:
        if not sources:
            raise SourceError(f"{label}: a concat needs at least one input")
        self.label = label
        first = sources[0]
        for other in sources[1:]:
            if other.names != first.names:
                raise SourceError(
                    f"{label}: {other.label} has variables {other.names} but {first.label} has "
                    f"{first.names}; concatenated inputs need the same variables"
                )
            check_same_grid(
                first.grid, other.grid, first_label=first.label, second_label=other.label
            )
            if other.ensemble_size != first.ensemble_size:
                raise SourceError(f"{label}: inputs have different ensemble sizes")
        if any(s.dates is None for s in sources):
            raise SourceError(f"{label}: inputs of a concat need a time axis")
        self._sources = sources
        self.grid = first.grid
        self.variables = first.variables
        self.ensemble_size = first.ensemble_size
        owner = np.concatenate([np.full(s.dates.size, i) for i, s in enumerate(sources)])
        dates = np.concatenate([s.dates for s in sources])
        order = np.argsort(dates, kind="stable")
        self.dates, self._owner = dates[order], owner[order]
        repeated = np.flatnonzero(np.diff(self.dates).astype(np.int64) == 0)
        if repeated.size:
            i = int(repeated[0])
            a, b = sources[self._owner[i]].label, sources[self._owner[i + 1]].label
            raise DateMismatchError(
                f"{label}: date {to_iso(self.dates[i])} is in both {a} and {b} "
                f"({repeated.size} overlapping dates); concatenated inputs must not overlap"
            )

    def load(self, dates: np.ndarray) -> np.ndarray:
        owners = self._owner[self.positions(dates)]
        out = np.empty(
            (len(dates), len(self.variables), self.ensemble_size, self.grid.size), np.float32
        )
        for index in np.unique(owners):
            chosen = owners == index
            out[chosen] = self._sources[index].load(dates[chosen])
        return out


def _open_inputs(section: Section, context: OpenContext, *, share_grid: bool) -> list[Source]:
    inputs = section.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise RecipeError(f"{section.key('inputs')}: expected a non-empty list of inputs")
    sources: list[Source] = []
    for index, spec in enumerate(inputs):
        grid = sources[0].grid if (share_grid and sources) else context.grid
        local = OpenContext(longitudes=context.longitudes, dates=context.dates, grid=grid)
        sources.append(open_source(spec, path=f"{section.key('inputs')}[{index}]", context=local))
    return sources


@register_source("join")
def _open_join(section: Section, context: OpenContext) -> Source:
    section.only(("type", "rename", "inputs"))
    return JoinSource(_open_inputs(section, context, share_grid=True), label=section.path)


@register_source("concat")
def _open_concat(section: Section, context: OpenContext) -> Source:
    section.only(("type", "rename", "inputs"))
    return ConcatSource(_open_inputs(section, context, share_grid=False), label=section.path)
