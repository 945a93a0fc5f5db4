"""Hydra-configured, distributed, resumable training of wx forecasters with MLflow tracking."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-training")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
