"""Forecasts from wx checkpoints to CF-compliant zarr/netCDF, with verification scores and plots."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-inference")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
