"""Hydra-configured, distributed, resumable training of wx forecasters with MLflow tracking."""

# Bind Python's sqlite3 to the system SQLite before any other library can load an older copy
# into the process (ecCodes' eckit wheel ships SQLite 3.26, loaded when xarray probes its
# cfgrib backend); MLflow's SQLite store needs 3.31 or newer.
import sqlite3  # noqa: F401
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-training")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
