"""What a run reports: metrics (to disk and MLflow), plots, checkpoint metadata, the summary.

Only rank 0 reports; the other ranks' calls return at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wx_training.checkpoints import link_or_copy
from wx_training.components import Components
from wx_training.config import to_container
from wx_training.distributed import DistributedContext
from wx_training.plots import plot_loss, plot_validation_rmse
from wx_training.run_dir import RunDirectory, append_history, read_history
from wx_training.tracking import Tracker, TrackingRecord

SCORE_KEYS = ("lead_hours", "rmse", "persistence")


def inference_metadata(
    config: Any, components: Components, *, step: int, run: RunDirectory, scores: dict[str, Any]
) -> dict[str, Any]:
    """What an inference checkpoint records of its training: config, data, step and scores."""
    data = config.data
    dates = components.view.dates
    return {
        "training": {
            "config": to_container(config),
            "step": step,
            "run": run.root.name,
            "dataset": {
                "name": components.dataset_name,
                "path": data.dataset,
                "dates": [str(dates[0]), str(dates[-1])],
                "train": {"start": data.train.start, "end": data.train.end},
                "validation": {"start": data.validation.start, "end": data.validation.end},
            },
        },
        "validation": {key: scores[key] for key in ("samples", "loss", *SCORE_KEYS, "units")},
    }


class RunReporter:
    """Metrics, plots and artifacts of one run, written by rank 0."""

    def __init__(
        self,
        *,
        config: Any,
        run: RunDirectory,
        tracker: Tracker | None,
        context: DistributedContext,
    ) -> None:
        self.config = config
        self.run = run
        self.tracker = tracker
        self.context = context

    def log(
        self,
        metrics: dict[str, float],
        *,
        step: int,
        kind: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Metrics to MLflow (through the tracker) or, without one, to the run directory."""
        if not self.context.is_main:
            return
        if self.tracker is not None:
            self.tracker.log_metrics(metrics, step)
        else:  # without MLflow the metrics are still kept in the run directory
            TrackingRecord(self.run.root).append_metrics(metrics, step)
        record = {
            "kind": kind,
            "step": step,
            "loss": metrics.get("train/loss", metrics.get("val/loss")),
            **{key: value for key, value in metrics.items() if key.startswith("train/")},
        }
        if extra is not None:
            record.update({key: extra[key] for key in SCORE_KEYS})
        append_history(self.run, record)

    def plot(self, scores: dict[str, Any], *, step: int) -> None:
        if not self.context.is_main:
            return
        loss_plot = plot_loss(read_history(self.run), self.run.plots / "loss.png")
        rmse_plot = plot_validation_rmse(scores, self.run.plots / "validation_rmse.png", step=step)
        if self.tracker is not None:
            self.tracker.log_artifact(loss_plot, "plots")
            self.tracker.log_artifact(rmse_plot, "plots")

    def finish(
        self, *, step: int, inference: Path | None, scores: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``inference-last``, the final artifacts, and the run's summary."""
        summary: dict[str, Any] = {"run_dir": str(self.run.root), "step": step}
        if scores is not None:
            summary["validation"] = {key: scores[key] for key in ("loss", *SCORE_KEYS)}
        if not self.context.is_main:
            return summary
        final = self.run.checkpoints / "inference-last.safetensors"
        if inference is not None and inference.is_file():
            link_or_copy(inference, final)
            summary["inference_checkpoint"] = str(final)
        if self.tracker is not None:
            self.tracker.log_artifact(self.run.config, None)
            self.tracker.log_artifact(self.run.root / "provenance.json", None)
            if self.config.tracking.log_checkpoints and final.is_file():
                self.tracker.log_artifact(final, "checkpoints")
        history = [item for item in read_history(self.run) if item.get("kind") == "train"]
        if history:
            summary["final_loss"] = history[-1]["loss"]
        return summary
