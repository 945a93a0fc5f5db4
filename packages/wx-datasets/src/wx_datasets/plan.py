"""From a recipe to a build plan: the opened input, the output variables and the time axis.

Everything a build needs is checked here, before anything is written: the input opens, the
selected and renamed variables exist, kinds and NaN policies name real variables, and the input
holds every date the recipe asks for (missing dates excepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wx_datasets.errors import RecipeError
from wx_datasets.fields import Source
from wx_datasets.recipe import Recipe
from wx_datasets.sources import OpenContext, open_source
from wx_datasets.store import FORMAT_NAME, FORMAT_VERSION
from wx_utils.dates import frequency_to_string, to_iso
from wx_utils.metadata import make_header


@dataclass(frozen=True)
class DatasetPlan:
    recipe: Recipe
    source: Source
    names: tuple[str, ...]  # output variable names, in store order
    source_index: np.ndarray  # [variable] position of each output variable in the input
    variables_metadata: dict[str, dict[str, Any]]
    dates: np.ndarray  # [time] datetime64[s], missing dates included
    present: np.ndarray  # [time] bool, False at declared missing dates


def plan_dataset(recipe: Recipe) -> DatasetPlan:
    """Open the recipe's input and check that it can make the dataset."""
    dates = recipe.dates.all_dates()
    present = ~np.isin(dates, np.array(recipe.dates.missing, dtype="datetime64[s]"))
    context = OpenContext(longitudes=recipe.output.longitudes, dates=dates)
    source = open_source(recipe.input, path="recipe.input", context=context)
    source.positions(dates[present])  # raises naming the input and the absent dates
    chosen = _select(recipe, source.names)
    names = tuple(recipe.rename.get(name, name) for name in chosen)
    for key in ("kinds", "nans"):
        for name in getattr(recipe, key):
            if name not in names:
                raise RecipeError(
                    f"recipe.{key}.{name}: no such output variable; variables: {', '.join(names)}"
                )
    index = np.array([source.names.index(name) for name in chosen], dtype=np.int64)
    metadata = {}
    for name, position in zip(names, index, strict=True):
        info = source.variables[position]
        default_kind = "constant" if info.constant else "prognostic"
        metadata[name] = {
            **info.metadata(),
            "kind": recipe.kinds.get(name, default_kind),
            "nan_policy": recipe.nan_policy(name),
        }
    return DatasetPlan(
        recipe=recipe,
        source=source,
        names=names,
        source_index=index,
        variables_metadata=metadata,
        dates=dates,
        present=present,
    )


def _select(recipe: Recipe, available: list[str]) -> list[str]:
    for key in ("variables", "drop"):
        for position, name in enumerate(getattr(recipe, key) or ()):
            if name not in available:
                raise RecipeError(
                    f"recipe.{key}[{position}]: {name!r} is not a variable of the input; "
                    f"variables: {', '.join(available)}"
                )
    chosen = list(recipe.variables) if recipe.variables is not None else list(available)
    chosen = [name for name in chosen if name not in recipe.drop]
    if not chosen:
        raise RecipeError("recipe.variables: no variable left to store")
    for name in recipe.rename:
        if name not in chosen:
            raise RecipeError(
                f"recipe.rename.{name}: no such variable among those stored: {', '.join(chosen)}"
            )
    return chosen


def dataset_header(plan: DatasetPlan, *, provenance: dict[str, Any]) -> dict[str, Any]:
    """The header of a new (incomplete) store."""
    recipe = plan.recipe
    return make_header(
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        provenance=provenance,
        complete=False,
        name=recipe.name,
        description=recipe.description,
        variables=list(plan.names),
        variables_metadata=plan.variables_metadata,
        ensemble_size=plan.source.ensemble_size,
        frequency=frequency_to_string(recipe.dates.frequency),
        start=to_iso(recipe.dates.start),
        end=to_iso(recipe.dates.end),
        missing_dates=[to_iso(d) for d in recipe.dates.missing],
        grid=plan.source.grid.describe(),
        statistics={
            "start": to_iso(recipe.statistics_start),
            "end": to_iso(recipe.statistics_end),
            "stdev": "population (ddof=0)",
            "tendency_frequency": frequency_to_string(recipe.dates.frequency),
        },
        chunking={
            "dates_per_chunk": 1,
            "dates_per_shard": recipe.output.dates_per_shard,
            "compression": recipe.output.compression,
            "compression_level": recipe.output.compression_level,
        },
        recipe=recipe.normalised,
        checksum=None,
    )
