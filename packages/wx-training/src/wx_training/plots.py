"""PNG plots of a run: the loss curve and the validation RMSE by lead time against persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_loss(history: list[dict[str, Any]], path: Path) -> Path:
    """Training loss per step and validation loss at each validation, log scale."""
    train = [(item["step"], item["loss"]) for item in history if item.get("kind") == "train"]
    valid = [(item["step"], item["loss"]) for item in history if item.get("kind") == "validation"]
    figure, axes = plt.subplots(figsize=(7, 4))
    if train:
        axes.plot(*zip(*train, strict=True), label="training", linewidth=1)
    if valid:
        axes.plot(*zip(*valid, strict=True), "o-", label="validation")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("weighted MSE (normalised)")
    axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.subplots_adjust(left=0.14, right=0.97, bottom=0.13, top=0.95)
    return _save(figure, path)


def plot_validation_rmse(scores: dict[str, Any], path: Path, *, step: int) -> Path:
    """RMSE (physical units) of the model and of persistence against lead time, per variable."""
    variables = list(scores["rmse"])
    columns = min(3, len(variables))
    rows = -(-len(variables) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.5 * rows), squeeze=False)
    hours = scores["lead_hours"]
    for axes, name in zip(grid.ravel(), variables, strict=False):
        axes.plot(hours, scores["rmse"][name], "o-", label="model")
        axes.plot(hours, scores["persistence"][name], "s--", label="persistence")
        units = scores.get("units", {}).get(name) or ""
        axes.set_title(name)
        axes.set_xlabel("lead time (h)")
        axes.set_ylabel(f"RMSE ({units})" if units else "RMSE")
        axes.grid(alpha=0.3)
        axes.legend()
    for axes in grid.ravel()[len(variables) :]:
        axes.set_visible(False)
    figure.suptitle(f"validation at step {step}")
    figure.subplots_adjust(left=0.16, right=0.97, bottom=0.13, top=0.85, wspace=0.35, hspace=0.5)
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    temporary.replace(path)
    return path
