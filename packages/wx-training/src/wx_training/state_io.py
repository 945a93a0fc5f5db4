"""Nested state (optimizer and scheduler state dicts, RNG states) as tensors plus JSON, no pickle.

``torch.save`` would pickle these structures, and loading a pickle can run arbitrary code. Here a
nested structure is split into a flat table of named tensors (stored with safetensors) and a
JSON skeleton in which each tensor is replaced by ``{"__tensor__": name}``. Dicts whose keys are
not all plain strings (the optimizer's per-parameter state uses integer keys) and tuples
(``betas``) are tagged so that :func:`join_state` rebuilds exactly the original structure.
"""

from __future__ import annotations

from typing import Any

import torch

TENSOR, TUPLE, ITEMS = "__tensor__", "__tuple__", "__items__"
_SCALARS = (bool, int, float, str, type(None))


class StateEncodingError(TypeError):
    """A state value that cannot be stored as tensors and JSON."""


def split_state(value: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """The JSON skeleton of ``value``; its tensors are added to ``tensors`` under ``prefix/...``."""
    if isinstance(value, torch.Tensor):
        name = prefix
        if name in tensors:
            raise StateEncodingError(f"{prefix}: two tensors would share this name")
        # safetensors refuses views that share memory: store an owned, contiguous copy.
        tensors[name] = value.detach().to("cpu").contiguous().clone()
        return {TENSOR: name}
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, tuple):
        return {
            TUPLE: [split_state(item, f"{prefix}/{i}", tensors) for i, item in enumerate(value)]
        }
    if isinstance(value, list):
        return [split_state(item, f"{prefix}/{i}", tensors) for i, item in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("__") for key in value):
            return {
                key: split_state(item, f"{prefix}/{key}", tensors) for key, item in value.items()
            }
        items = []
        for key, item in value.items():
            if not isinstance(key, _SCALARS):
                raise StateEncodingError(f"{prefix}: dict key {key!r} is not a JSON scalar")
            items.append([key, split_state(item, f"{prefix}/{key}", tensors)])
        return {ITEMS: items}
    raise StateEncodingError(
        f"{prefix}: cannot store a {type(value).__name__} without pickle "
        "(expected tensors, numbers, strings, lists, tuples and dicts)"
    )


def join_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild the structure that :func:`split_state` took apart."""
    if isinstance(skeleton, list):
        return [join_state(item, tensors) for item in skeleton]
    if isinstance(skeleton, dict):
        if set(skeleton) == {TENSOR}:
            name = skeleton[TENSOR]
            if name not in tensors:
                raise KeyError(f"state refers to tensor {name!r}, which the file lacks")
            return tensors[name]
        if set(skeleton) == {TUPLE}:
            return tuple(join_state(item, tensors) for item in skeleton[TUPLE])
        if set(skeleton) == {ITEMS}:
            return {key: join_state(item, tensors) for key, item in skeleton[ITEMS]}
        return {key: join_state(item, tensors) for key, item in skeleton.items()}
    return skeleton


def tensors_to_lists(value: Any) -> Any:
    """``value`` with every tensor replaced by ``{"__tensor__": {dtype, shape, values}}`` (JSON)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().reshape(-1)
        return {
            TENSOR: {
                "dtype": str(flat.dtype).removeprefix("torch."),
                "shape": list(value.shape),
                "values": flat.tolist(),
            }
        }
    if isinstance(value, tuple):
        return {TUPLE: [tensors_to_lists(item) for item in value]}
    if isinstance(value, list):
        return [tensors_to_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: tensors_to_lists(item) for key, item in value.items()}
    return value


def lists_to_tensors(value: Any) -> Any:
    """Undo :func:`tensors_to_lists`."""
    if isinstance(value, list):
        return [lists_to_tensors(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {TENSOR}:
            spec = value[TENSOR]
            return torch.tensor(spec["values"], dtype=getattr(torch, spec["dtype"])).reshape(
                spec["shape"]
            )
        if set(value) == {TUPLE}:
            return tuple(lists_to_tensors(item) for item in value[TUPLE])
        return {key: lists_to_tensors(item) for key, item in value.items()}
    return value
