"""The run directory: resolved config, provenance, log, checkpoints, plots and tracking record.

```
<run_dir>/
  config.yaml          the resolved config (re-run with `wx-training train --config-dir`-free:
                       `wx-training config validate <run_dir>/config.yaml` checks it)
  provenance.json      software, git state, host, command line and config (wx_utils.provenance)
  train.log            the log of every attempt (resumes append)
  graph.safetensors    the graph the model was trained on
  checkpoints/         training-step*.safetensors (last K), training-best, inference-step*,
                       inference-best, inference-last
  plots/               loss.png, validation_rmse.png
  tracking/            metrics.jsonl and the MLflow upload record (see wx_training.tracking)
  mlflow.db            the default MLflow store (sqlite), mlartifacts/ its artifacts
```
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wx_utils.logs import LOG_FORMAT
from wx_utils.metadata import atomic_write_text

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDirectory:
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def graph(self) -> Path:
        return self.root / "graph.safetensors"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def history(self) -> Path:
        """Training and validation figures per step (JSONL), for the plots."""
        return self.root / "history.jsonl"


def choose_run_dir(run_dir: str | None, *, name: str, resume: Path | None) -> Path:
    """The configured directory, the resumed checkpoint's run, or ``runs/<name>-<UTC time>``."""
    if run_dir is not None:
        return Path(run_dir)
    if resume is not None and resume.parent.name == "checkpoints":
        return resume.parent.parent
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / f"{name}-{stamp}"


def prepare_run_dir(
    root: Path, *, config: dict[str, Any], provenance: dict[str, Any], resuming: bool
) -> RunDirectory:
    """Create the directory and write the resolved config and provenance (rank 0 only).

    A new run refuses a directory that already holds a run; a resumed one keeps what is there
    and records the new attempt's provenance beside the first.
    """
    run = RunDirectory(root)
    if run.config.exists() and not resuming:
        raise FileExistsError(
            f"run_dir={root}: already holds a run; choose another run_dir, or continue it with resume={root}"
        )
    for folder in (root, run.checkpoints, run.plots):
        folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.config, yaml.safe_dump(config, sort_keys=False))
    attempts_path = root / "provenance.json"
    attempts = (
        json.loads(attempts_path.read_text(encoding="utf-8"))
        if attempts_path.is_file() and resuming
        else []
    )
    attempts = attempts if isinstance(attempts, list) else [attempts]
    atomic_write_text(
        attempts_path, json.dumps([*attempts, provenance], indent=2, sort_keys=True, default=str)
    )
    return run


def attach_log_file(run: RunDirectory) -> logging.Handler:
    """Copy log records to ``<run_dir>/train.log`` (appending across resumes)."""
    handler = logging.FileHandler(run.root / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)
    if logging.getLogger().level > logging.INFO or logging.getLogger().level == logging.NOTSET:
        logging.getLogger().setLevel(logging.INFO)
    return handler


def append_history(run: RunDirectory, record: dict[str, Any]) -> None:
    with open(run.history, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_history(run: RunDirectory) -> list[dict[str, Any]]:
    if not run.history.is_file():
        return []
    lines = run.history.read_text(encoding="utf-8").splitlines()
    # A resumed run repeats the steps after its checkpoint: keep the latest record of each.
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for line in lines:
        if line.strip():
            record = json.loads(line)
            latest[(record.get("kind", ""), record.get("step", -1))] = record
    return sorted(
        latest.values(), key=lambda record: (record.get("step", -1), record.get("kind", ""))
    )
