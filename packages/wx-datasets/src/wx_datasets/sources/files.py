"""Inputs read from files with xarray: ``netcdf`` and ``xarray`` (any engine), globs of files.

A glob of files is grouped by the variables each file holds: files with the same variables are
concatenated in time (one file per month, say), groups are joined side by side (one file per
variable). Keys: ``path`` (file, glob or list), ``variables``, ``levels``, ``step``, ``isel``,
``engine`` and ``options`` (passed to ``xarray.open_dataset``).
"""

from __future__ import annotations

import glob
from pathlib import Path

import xarray as xr

from wx_datasets.errors import RecipeError
from wx_datasets.fields import Source
from wx_datasets.recipe import Section
from wx_datasets.sources import OpenContext, register_source
from wx_datasets.sources.dataset import DatasetOptions, DatasetSource
from wx_utils.dates import DateError, parse_frequency

DATASET_KEYS = ("type", "rename", "variables", "levels", "step", "isel")


def dataset_options(
    section: Section, context: OpenContext, *, constant: bool = False
) -> DatasetOptions:
    """The options every xarray-based input shares, validated with key paths."""
    variables = section.strings("variables", None)
    levels = section.get("levels", None)
    if levels is not None:
        if not isinstance(levels, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in levels
        ):
            raise RecipeError(f"{section.key('levels')}: expected a list of pressure levels in hPa")
        levels = tuple(float(v) for v in levels)
    step = section.get("step", None)
    if step is not None:
        step = parse_step(step, key=section.key("step"))
    return DatasetOptions(
        variables=None if variables is None else tuple(variables),
        levels=levels,
        step=step,
        isel=section.mapping("isel", {}),
        constant=constant,
        longitudes=context.longitudes,
    )


def parse_step(value: object, *, key: str) -> int:
    """A forecast lead time (``0``, ``6h``, ``PT12H``) in seconds."""
    if value in (0, "0"):
        return 0
    if isinstance(value, str) and value.strip().rstrip("hdmsHDMS") == "0":
        return 0
    try:
        return int(parse_frequency(value).total_seconds())
    except DateError as error:
        raise RecipeError(f"{key}: {error}") from None


def expand_files(section: Section) -> list[str]:
    """The files named by ``path`` (a file, a glob or a list of them), sorted, or an error."""
    value = section.get("path")
    patterns = value if isinstance(value, list) else [value]
    files: list[str] = []
    for pattern in patterns:
        if "://" in pattern:
            files.append(pattern)
            continue
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise FileNotFoundError(f"{section.key('path')}: no file matches {pattern}")
        for match in matches:
            if not Path(match).exists():
                raise FileNotFoundError(f"{section.key('path')}: {match}: no such file")
        files.extend(matches)
    return files


def open_xarray_files(
    section: Section,
    context: OpenContext,
    *,
    engine: str | None,
    open_options: dict,
    options: DatasetOptions,
) -> Source:
    """One DatasetSource per file, concatenated in time and joined by variable sets."""
    from wx_datasets.sources.combine import ConcatSource, JoinSource

    sources = []
    for file in expand_files(section):
        label = f"{section.path} ({file})"
        try:
            dataset = xr.open_dataset(file, engine=engine, cache=False, **open_options)
        except (OSError, ValueError) as error:
            raise type(error)(f"{label}: cannot be opened: {error}") from None
        sources.append(DatasetSource(dataset, label=label, options=options))
    if len(sources) == 1:
        return sources[0]
    groups: dict[tuple[str, ...], list[Source]] = {}
    for source in sources:
        groups.setdefault(tuple(source.names), []).append(source)
    parts = [
        ConcatSource(members, label=f"{section.path} ({len(members)} files)")
        if len(members) > 1
        else members[0]
        for members in groups.values()
    ]
    return parts[0] if len(parts) == 1 else JoinSource(parts, label=section.path)


@register_source("netcdf")
def _open_netcdf(section: Section, context: OpenContext) -> Source:
    section.only((*DATASET_KEYS, "path", "options"))
    return open_xarray_files(
        section,
        context,
        engine=None,
        open_options=section.mapping("options", {}),
        options=dataset_options(section, context),
    )


@register_source("xarray")
def _open_xarray(section: Section, context: OpenContext) -> Source:
    section.only((*DATASET_KEYS, "path", "engine", "options"))
    return open_xarray_files(
        section,
        context,
        engine=section.string("engine", None),
        open_options=section.mapping("options", {}),
        options=dataset_options(section, context),
    )
