"""Write the first-format checkpoint fixture and its reference outputs (run once; keep the files).

    uv run python packages/wx-models/tests/make_models_checkpoint_v1.py

``data/checkpoint_v1.safetensors`` is a tiny GNN model written by format version 1;
``data/checkpoint_v1_reference.safetensors`` holds an input and the output the model gave when
it was written. ``test_models_checkpoint.py`` proves that every later wx-models still loads the
file and reproduces the output. Never regenerate them with a newer format version: add a new
fixture for the new version instead.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from wx_models import CHECKPOINT_FORMAT_VERSION, save_checkpoint
from wx_models.debug import tiny_inputs, tiny_weather_model

DATA = Path(__file__).parent / "data"
METADATA = {
    "name": "wx tiny GNN (format version 1 fixture)",
    "description": "A tiny untrained model that keeps the first checkpoint format under test.",
    "licence": "CC0-1.0",
    "training": {"dataset": "none (untrained)", "start": "2020-01-01", "end": "2020-12-31"},
    "validation": {"rmse": {"t_850": 1.25, "q_850": 0.0008}},
}


def main() -> None:
    assert CHECKPOINT_FORMAT_VERSION == 1, "this script writes the version 1 fixture only"
    model = tiny_weather_model(
        "gnn",
        seed=0,
        bounding=[
            {"type": "relu", "variables": ["q_850"]},
            {"type": "fraction", "variables": ["tp"], "of": "q_850"},
        ],
    ).eval()
    inputs = tiny_inputs(model, batch=1, seed=0)
    with torch.no_grad():
        outputs = model(inputs)
    DATA.mkdir(exist_ok=True)
    save_checkpoint(DATA / "checkpoint_v1.safetensors", model, metadata=METADATA)
    save_file({"inputs": inputs, "outputs": outputs}, DATA / "checkpoint_v1_reference.safetensors")


if __name__ == "__main__":
    main()
