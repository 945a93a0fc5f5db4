"""Errors raised by wx-datasets for bad input; each names the key, file, variable or date at fault.

All derive from ``ValueError`` (or ``FileNotFoundError``/``FileExistsError``) so the command line
prints them as one-line errors with exit status 2.
"""

from __future__ import annotations


class RecipeError(ValueError):
    """A recipe value that is missing, of the wrong type or out of range; names the key path."""


class SourceError(ValueError):
    """An input that cannot provide what the recipe asks for (variables, levels, dims, dates)."""


class GridMismatchError(SourceError):
    """Inputs that should share a grid (join, concat) do not."""


class DateMismatchError(SourceError):
    """Dates that are duplicated, not increasing, absent from an input, or off the frequency."""


class NaNPolicyError(ValueError):
    """NaN values in a variable whose NaN policy forbids them."""


class IncompleteDatasetError(ValueError):
    """A store whose build has not finished (no ``complete: true`` in its header)."""


class MissingDatesError(ValueError):
    """A view asked to fail on missing dates covers some; the message lists them."""


class StoreError(ValueError):
    """A store that is not a wx dataset or whose layout does not match its header."""
