"""Provenance, dates and frequencies, artifact metadata, logging and CLI helpers for wx."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-utils")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
