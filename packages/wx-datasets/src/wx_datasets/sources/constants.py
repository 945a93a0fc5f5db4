"""Constant fields: read from a file (land-sea mask, orography) or computed from the grid.

``type: constants`` takes an optional ``path`` (netCDF, or zarr for ``*.zarr``) with
``variables`` and ``isel`` as for netCDF inputs (a time axis of length one is dropped), and
``levels``; ``features`` computed on the grid: ``cos_latitude``, ``sin_latitude``, ``cos_longitude``,
``sin_longitude``. Without ``path`` the grid is that of the inputs before it in a join.
Constants are stored at every date with kind ``constant``.
"""

from __future__ import annotations

import numpy as np

from wx_datasets.errors import RecipeError
from wx_datasets.fields import Source, VariableInfo, repeat_constants
from wx_datasets.grids import Grid
from wx_datasets.recipe import Section
from wx_datasets.sources import OpenContext, register_source
from wx_datasets.sources.combine import JoinSource
from wx_datasets.sources.dataset import DatasetSource
from wx_datasets.sources.files import dataset_options, open_xarray_files
from wx_datasets.sources.zarr_store import open_zarr_dataset

FEATURES = {
    "cos_latitude": lambda lat, lon: np.cos(np.radians(lat)),
    "sin_latitude": lambda lat, lon: np.sin(np.radians(lat)),
    "cos_longitude": lambda lat, lon: np.cos(np.radians(lon)),
    "sin_longitude": lambda lat, lon: np.sin(np.radians(lon)),
}


class FeatureSource(Source):
    """Fields computed from the cell coordinates; the same at every date."""

    def __init__(self, grid: Grid, names: list[str], *, label: str) -> None:
        self.label = label
        self.grid = grid
        self.ensemble_size = 1
        self.dates = None
        self.variables = tuple(
            VariableInfo(name=n, param=n, level=None, units="1", long_name=None, constant=True)
            for n in names
        )
        values = [FEATURES[n](grid.latitudes, grid.longitudes) for n in names]
        self._values = np.stack(values)[:, None, :].astype(np.float32)  # [variable, 1, cell]

    def load(self, dates: np.ndarray) -> np.ndarray:
        return repeat_constants(self._values, len(dates))


@register_source("constants")
def _open_constants(section: Section, context: OpenContext) -> Source:
    section.only(("type", "rename", "path", "variables", "levels", "isel", "features"))
    features = section.strings("features", [])
    for index, name in enumerate(features):
        if name not in FEATURES:
            raise RecipeError(
                f"{section.key('features')}[{index}]: unknown feature {name!r}; expected one of "
                f"{', '.join(FEATURES)}"
            )
    parts: list[Source] = []
    if "path" in section.value:
        parts.append(_open_file(section, context))
    elif "variables" in section.value:
        raise RecipeError(f"{section.key('variables')}: needs 'path', the file to read them from")
    if features:
        grid = parts[0].grid if parts else context.grid
        if grid is None:
            raise RecipeError(
                f"{section.key('features')}: needs 'path' or an input before it in a join "
                "to take the grid from"
            )
        parts.append(FeatureSource(grid, features, label=f"{section.path} (features)"))
    if not parts:
        raise RecipeError(f"{section.path}: expected 'path' with 'variables', or 'features'")
    return parts[0] if len(parts) == 1 else JoinSource(parts, label=section.path)


def _open_file(section: Section, context: OpenContext) -> Source:
    options = dataset_options(section, context, constant=True)
    path = section.get("path")
    if isinstance(path, str) and path.rstrip("/").endswith(".zarr"):
        label = f"{section.path} ({path})"
        dataset = open_zarr_dataset(path, label=label, options={})
        return DatasetSource(dataset, label=label, options=options)
    return open_xarray_files(section, context, engine=None, open_options={}, options=options)
