"""Errors of the shallow-water model and source: each names what was wrong and what was expected.

All are ``ValueError`` or ``KeyError`` subclasses, so the ``wx-datasets`` CLI prints them as one
line with exit status 2.
"""

from __future__ import annotations


class ShallowWaterError(ValueError):
    """An invalid shallow-water option or model configuration."""


class TruncationError(ShallowWaterError):
    """A spectral truncation that does not fit the Gaussian grid without aliasing."""


class TimeStepError(ShallowWaterError):
    """A time step that violates the stability (CFL) limit of the time scheme."""


class MeanDepthError(ShallowWaterError):
    """A mean fluid depth that is not positive, or a state whose depth becomes negative."""


class InstabilityError(ShallowWaterError):
    """The integration blew up (non-finite values) despite the checks made before running."""


class UnknownFieldError(KeyError):
    """A requested output field or constant that the shallow-water source does not provide."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
