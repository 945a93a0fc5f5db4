"""One logging set-up for every wx command-line tool."""

from __future__ import annotations

import logging
import os
import sys

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


def setup_logging(level: int | str | None = None, *, stream=None) -> logging.Logger:
    """Configure the root logger once: level from ``level``, else ``$WX_LOG_LEVEL``, else INFO."""
    chosen = level if level is not None else os.environ.get("WX_LOG_LEVEL", "INFO")
    if isinstance(chosen, str):
        name = chosen.upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError(
                f"log level {chosen!r}: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
            )
        chosen = logging.getLevelNamesMapping()[name]
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_wx", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._wx = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    root.addHandler(handler)
    root.setLevel(chosen)
    return logging.getLogger("wx")


def get_logger(name: str) -> logging.Logger:
    """A module logger below the ``wx`` hierarchy."""
    return logging.getLogger(name)
