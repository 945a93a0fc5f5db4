"""Recipes to ML-ready zarr v3 datasets, lazy views and statistics for wx (no torch).

``create`` builds a store from a recipe, ``finalise`` completes a store built in parts, and
``open_dataset`` opens stores as lazy views (see DESIGN.md for the store layout).
"""

from importlib.metadata import PackageNotFoundError, version

from wx_datasets.build import create, finalise
from wx_datasets.errors import (
    DateMismatchError,
    GridMismatchError,
    IncompleteDatasetError,
    MissingDatesError,
    NaNPolicyError,
    RecipeError,
    SourceError,
    StoreError,
)
from wx_datasets.open import open_dataset
from wx_datasets.recipe import load_recipe
from wx_datasets.view import DatasetView

try:
    __version__ = version("wx-datasets")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "DatasetView",
    "DateMismatchError",
    "GridMismatchError",
    "IncompleteDatasetError",
    "MissingDatesError",
    "NaNPolicyError",
    "RecipeError",
    "SourceError",
    "StoreError",
    "__version__",
    "create",
    "finalise",
    "load_recipe",
    "open_dataset",
]
