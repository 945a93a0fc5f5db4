"""Node sets, edge builders and attributes for global, regional and stretched wx graphs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wx-graphs")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
