"""advance_history: the window slides by one step, prognostic values from the prediction and
forcing/constant values from the next-step inputs."""

from __future__ import annotations

import pytest
import torch

from wx_models import advance_history
from wx_models.debug import tiny_inputs, tiny_weather_model

# 3 steps, 5 cells; inputs: 2 prognostic, 1 forcing, 1 constant; outputs: 2 prognostic, 1 diagnostic
HISTORY = torch.arange(2 * 3 * 5 * 4, dtype=torch.float32).reshape(2, 3, 5, 4)
PREDICTION = -torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
FORCINGS = 1000 + torch.arange(2 * 5 * 2, dtype=torch.float32).reshape(2, 5, 2)


def test_window_slides_with_forcings_and_constants():
    new = advance_history(HISTORY, PREDICTION, FORCINGS)
    assert new.shape == HISTORY.shape
    assert torch.equal(new[:, :2], HISTORY[:, 1:])
    assert torch.equal(new[:, 2, :, :2], PREDICTION[..., :2])  # diagnostic dropped
    assert torch.equal(new[:, 2, :, 2:], FORCINGS)


def test_full_next_step_input_needs_the_prognostic_count():
    full = torch.cat([torch.full((2, 5, 2), float("nan")), FORCINGS], dim=-1)
    new = advance_history(HISTORY, PREDICTION, full, num_prognostic=2)
    assert torch.equal(new, advance_history(HISTORY, PREDICTION, FORCINGS))
    with pytest.raises(ValueError, match="give num_prognostic"):
        advance_history(HISTORY, PREDICTION, full)


def test_without_forcings():
    history = HISTORY[..., :2]
    new = advance_history(history, PREDICTION, None)
    assert torch.equal(new[:, -1], PREDICTION[..., :2])


@pytest.mark.parametrize(
    ("history", "prediction", "forcings", "message"),
    [
        (HISTORY[0], PREDICTION, FORCINGS, "history: expected"),
        (HISTORY, PREDICTION[:, :4], FORCINGS, r"prediction: expected \[2, 5, output_variable\]"),
        (HISTORY, PREDICTION, FORCINGS[:1], r"forcings: expected \[2, 5, variable\]"),
        (HISTORY, PREDICTION[..., :1], FORCINGS, "fewer than 2 prognostic"),
    ],
)
def test_shape_errors(history, prediction, forcings, message):
    with pytest.raises(ValueError, match=message):
        advance_history(history, prediction, forcings)


def test_model_rollout_of_two_steps():
    model = tiny_weather_model().eval()
    history = tiny_inputs(model, batch=1)
    with torch.no_grad():
        first = model(history)
        forcings = history[:, -1, :, 2:]  # insolation and lsm held at their last values
        history = model.advance_history(history, first, forcings)
        second = model(history)
    assert torch.equal(history[:, -1, :, :2], first[..., :2])
    assert second.shape == first.shape and torch.isfinite(second).all()
