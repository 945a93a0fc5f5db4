"""Encoder-processor-decoder graph networks, normalisation, bounding and the safe wx checkpoint format.

The public API: :class:`WeatherModel` (physical units in and out), :func:`save_checkpoint` /
:func:`load_checkpoint` (one safetensors file), :func:`advance_history` (rollout), and the
network :class:`EncoderProcessorDecoder` for those who compose their own wrapper.
"""

from importlib.metadata import PackageNotFoundError, version

from wx_models.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    read_checkpoint_metadata,
    save_checkpoint,
)
from wx_models.encode_process_decode import EncoderProcessorDecoder
from wx_models.graph import GraphError
from wx_models.rollout import advance_history
from wx_models.variables import VariableError, statistics_from_arrays
from wx_models.weather_model import WeatherModel

try:
    __version__ = version("wx-models")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "CheckpointError",
    "EncoderProcessorDecoder",
    "GraphError",
    "VariableError",
    "WeatherModel",
    "__version__",
    "advance_history",
    "load_checkpoint",
    "read_checkpoint_metadata",
    "save_checkpoint",
    "statistics_from_arrays",
]
