"""Recipes to ML-ready zarr v3 datasets, lazy views and statistics for wx (no torch)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-datasets")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
