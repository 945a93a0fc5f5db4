"""The registry of input types: ``type`` in a recipe's input maps to an opener returning a Source.

Built in: ``netcdf``/``xarray`` (files and globs), ``grib`` (cfgrib), ``zarr`` (incl.
WeatherBench2 layouts), ``constants`` (fields without time, lat/lon features), ``join``
(variables side by side), ``concat`` (periods one after another) and ``shallow-water`` (the
simulator in :mod:`wx_datasets.shallow_water`, imported only when used). Every input also takes
``rename: {old: new}`` for its output variable names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from wx_datasets.errors import RecipeError, SourceError
from wx_datasets.fields import Source
from wx_datasets.grids import Grid
from wx_datasets.recipe import Section


@dataclass(frozen=True)
class OpenContext:
    longitudes: str  # "0..360" or "-180..180"
    dates: np.ndarray  # [time] datetime64[s], the dataset's dates (missing ones included)
    grid: Grid | None = None  # grid of the inputs before this one in a join, if any


Opener = Callable[[Section, OpenContext], Source]
_OPENERS: dict[str, Opener] = {}


def register_source(name: str) -> Callable[[Opener], Opener]:
    """Register ``opener(section, context) -> Source`` for inputs of ``type: name``."""

    def decorator(opener: Opener) -> Opener:
        _OPENERS[name] = opener
        return opener

    return decorator


def source_types() -> list[str]:
    _load_builtins()
    return sorted(_OPENERS)


def open_source(spec: object, *, path: str, context: OpenContext) -> Source:
    """Open the input described by ``spec`` (found at key ``path`` of the recipe)."""
    _load_builtins()
    section = Section(spec, path)
    kind = section.string("type")
    if kind not in _OPENERS:
        raise RecipeError(
            f"{section.key('type')}: unknown input type {kind!r}; expected one of "
            f"{', '.join(sorted(_OPENERS))}"
        )
    rename = section.mapping("rename", {})
    source = _OPENERS[kind](section, context)
    return RenamedSource(source, rename, path=section.key("rename")) if rename else source


class RenamedSource(Source):
    """Another source with some output variables renamed."""

    def __init__(self, source: Source, rename: dict, *, path: str) -> None:
        unknown = [name for name in rename if name not in source.names]
        if unknown:
            raise RecipeError(
                f"{path}.{unknown[0]}: no such variable in this input; variables: "
                f"{', '.join(source.names)}"
            )
        self._source = source
        self.label = source.label
        self.grid = source.grid
        self.ensemble_size = source.ensemble_size
        self.dates = source.dates
        self.variables = tuple(
            replace(v, name=str(rename.get(v.name, v.name))) for v in source.variables
        )

    def load(self, dates: np.ndarray) -> np.ndarray:
        return self._source.load(dates)


@register_source("shallow-water")
def _open_shallow_water(section: Section, context: OpenContext) -> Source:
    from wx_datasets.sources.dataset import DatasetOptions, DatasetSource

    try:
        module = importlib.import_module("wx_datasets.shallow_water.source")
    except ModuleNotFoundError as error:
        raise SourceError(
            f"{section.path}: the shallow-water input needs wx_datasets.shallow_water.source, "
            f"which cannot be imported ({error})"
        ) from None
    options = {k: v for k, v in section.value.items() if k not in ("type", "rename")}
    dataset = module.open_source(options, dates=context.dates)
    label = f"{section.path} (shallow-water)"
    return DatasetSource(
        dataset,
        label=label,
        options=DatasetOptions(
            variables=None,
            levels=None,
            step=None,
            isel={},
            constant=False,
            longitudes=context.longitudes,
        ),
    )


_BUILTINS = (
    "wx_datasets.sources.files",
    "wx_datasets.sources.grib",
    "wx_datasets.sources.zarr_store",
    "wx_datasets.sources.constants",
    "wx_datasets.sources.combine",
)


def _load_builtins() -> None:
    for module in _BUILTINS:
        importlib.import_module(module)
