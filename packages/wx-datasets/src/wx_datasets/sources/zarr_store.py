"""Zarr inputs (v2 or v3, local or any fsspec URL), e.g. WeatherBench2's ERA5 stores.

WeatherBench2 layouts (``time``, ``level``, ``longitude``, ``latitude`` in any order, latitudes
ascending) need nothing special: axes are recognised by name and brought to canonical order.
Keys: ``path``, ``variables``, ``levels``, ``step``, ``isel``, ``options`` (passed to
``xarray.open_zarr``, e.g. ``storage_options``).
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from wx_datasets.fields import Source
from wx_datasets.recipe import Section
from wx_datasets.sources import OpenContext, register_source
from wx_datasets.sources.dataset import DatasetSource
from wx_datasets.sources.files import DATASET_KEYS, dataset_options


def open_zarr_dataset(path: str, *, label: str, options: dict) -> xr.Dataset:
    if "://" not in path and not Path(path).exists():
        raise FileNotFoundError(f"{label}: no such zarr store")
    try:
        return xr.open_zarr(path, chunks=None, **options)
    except (OSError, ValueError, KeyError) as error:
        raise type(error)(f"{label}: cannot be opened as zarr: {error}") from None


@register_source("zarr")
def _open_zarr(section: Section, context: OpenContext) -> Source:
    section.only((*DATASET_KEYS, "path", "options"))
    path = section.string("path")
    label = f"{section.path} ({path})"
    dataset = open_zarr_dataset(path, label=label, options=section.mapping("options", {}))
    return DatasetSource(dataset, label=label, options=dataset_options(section, context))
