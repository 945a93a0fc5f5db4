"""Encoder-processor-decoder graph networks, normalisation, bounding and the safe wx checkpoint format."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-models")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
