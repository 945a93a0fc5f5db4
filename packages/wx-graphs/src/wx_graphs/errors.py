"""Errors raised while reading recipes and building graphs.

All are ``ValueError`` subclasses so that the ``wx-graphs`` command line reports them as one-line
user errors (exit status 2); each message names the recipe key, node set or file at fault.
"""

from __future__ import annotations


class GraphRecipeError(ValueError):
    """A recipe key that is missing, unknown or has a value of the wrong type or range."""


class RefinementError(GraphRecipeError):
    """An icosahedral refinement level outside the supported range."""


class CoordinateError(ValueError):
    """Latitudes/longitudes that are NaN, out of range or of mismatched shapes."""


class EmptyAreaError(ValueError):
    """An area (or a mesh restricted to it) that contains no nodes."""


class MissingNodeSetError(GraphRecipeError):
    """An edge set that refers to a node set the recipe does not define."""


class UnconnectedNodesError(ValueError):
    """Grid nodes left without an encoder (or decoder) edge, where the recipe does not allow it."""
