"""MLflow tracking that survives outages: everything goes to disk first, uploads catch up.

Every metric is appended to ``<run_dir>/tracking/metrics.jsonl`` (one JSON object per line)
before anything is sent; params, tags and artifact requests are kept beside it. A background
thread uploads what is new (``MlflowClient.log_batch``, at most 1000 metrics per call) and
records in ``tracking/state.json`` how far it got; when the server is unreachable it waits
``retry_seconds`` and tries again, so training never blocks on tracking and nothing is lost.
``wx-training mlflow sync RUN_DIR`` runs the same upload once, e.g. after the server is back.
Uploading twice is harmless: MLflow drops a metric identical in key, value, step and timestamp.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from wx_utils.metadata import atomic_write_text

LOG = logging.getLogger(__name__)

TRACKING_DIR = "tracking"
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000


def default_tracking_uri(run_dir: Path) -> str:
    """The embedded default: an SQLite database in the run directory."""
    return f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"


def flatten(config: Any, prefix: str = "") -> dict[str, str]:
    """A nested config as ``{"training.optimizer.lr": "0.001", ...}`` (MLflow params)."""
    flat: dict[str, str] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    text = json.dumps(config, sort_keys=True) if isinstance(config, list) else str(config)
    flat[prefix.rstrip(".")] = text[:MAX_PARAM_LENGTH]
    return flat


class TrackingRecord:
    """The on-disk side of tracking: what was logged and how much of it was uploaded."""

    def __init__(self, run_dir: str | Path) -> None:
        self.folder = Path(run_dir) / TRACKING_DIR
        self.metrics_path = self.folder / "metrics.jsonl"
        self.artifacts_path = self.folder / "artifacts.jsonl"
        self.setup_path = self.folder / "setup.json"
        self.state_path = self.folder / "state.json"
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.setup_path.is_file()

    def write_setup(self, setup: dict[str, Any]) -> None:
        """Tracking URI, experiment, run name, params and tags (kept across resumes)."""
        atomic_write_text(self.setup_path, json.dumps(setup, indent=2, sort_keys=True))

    def setup(self) -> dict[str, Any]:
        if not self.setup_path.is_file():
            raise FileNotFoundError(f"{self.setup_path}: no tracking record in this run directory")
        return json.loads(self.setup_path.read_text(encoding="utf-8"))

    def state(self) -> dict[str, Any]:
        if not self.state_path.is_file():
            return {"run_id": None, "metrics_uploaded": 0, "artifacts_uploaded": 0, "params": False}
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def save_state(self, state: dict[str, Any]) -> None:
        atomic_write_text(self.state_path, json.dumps(state, indent=2, sort_keys=True))

    def save_final_status(self, status: str) -> None:
        """How the training ended (FINISHED, FAILED, KILLED), for a later ``sync``."""
        atomic_write_text(self.folder / "final_status.txt", status + "\n")

    def final_status(self) -> str | None:
        path = self.folder / "final_status.txt"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None

    def append_metrics(self, metrics: dict[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        lines = [
            json.dumps(
                {"key": key, "value": float(value), "step": int(step), "timestamp": timestamp}
            )
            for key, value in metrics.items()
        ]
        self._append(self.metrics_path, lines)

    def append_artifact(self, path: Path, artifact_path: str | None) -> None:
        self._append(
            self.artifacts_path, [json.dumps({"path": str(path), "artifact_path": artifact_path})]
        )

    def read_lines(self, path: Path, start: int) -> list[dict[str, Any]]:
        """Complete lines from line ``start`` on (a line still being written is left out)."""
        if not path.is_file():
            return []
        with self._lock, open(path, encoding="utf-8") as handle:
            text = handle.read()
        complete = text[: text.rfind("\n") + 1].splitlines()
        return [json.loads(line) for line in complete[start:] if line.strip()]

    def _append(self, path: Path, lines: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()


def upload_pending(record: TrackingRecord, *, finished_status: str | None = None) -> dict[str, int]:
    """Upload whatever the record holds that the server lacks; raises if the server fails.

    Progress is saved after each successful call, so an interruption repeats at most one batch.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    setup, state = record.setup(), record.state()
    client = MlflowClient(tracking_uri=setup["uri"])
    if state["run_id"] is None:
        state["run_id"] = _create_run(client, setup)
        record.save_state(state)
    run_id = state["run_id"]
    if not state.get("params"):
        params = [Param(key, value) for key, value in setup["params"].items()]
        tags = [RunTag(key, value) for key, value in setup["tags"].items()]
        for first in range(0, max(len(params), 1), MAX_PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[first : first + MAX_PARAMS_PER_BATCH])
        client.log_batch(run_id, tags=tags)
        state["params"] = True
        record.save_state(state)
    pending = record.read_lines(record.metrics_path, state["metrics_uploaded"])
    for first in range(0, len(pending), MAX_METRICS_PER_BATCH):
        chunk = pending[first : first + MAX_METRICS_PER_BATCH]
        metrics = [Metric(m["key"], m["value"], m["timestamp"], m["step"]) for m in chunk]
        client.log_batch(run_id, metrics=metrics)
        state["metrics_uploaded"] += len(chunk)
        record.save_state(state)
    artifacts = record.read_lines(record.artifacts_path, state["artifacts_uploaded"])
    for artifact in artifacts:
        path = Path(artifact["path"])
        if path.exists():
            client.log_artifact(run_id, str(path), artifact["artifact_path"])
        else:
            LOG.warning("artifact %s was removed before it could be uploaded; skipped", path)
        state["artifacts_uploaded"] += 1
        record.save_state(state)
    if finished_status is not None and state.get("status") != finished_status:
        client.set_terminated(run_id, status=finished_status)
        state["status"] = finished_status
        record.save_state(state)
    return {"metrics": len(pending), "artifacts": len(artifacts)}


def _create_run(client, setup: dict[str, Any]) -> str:
    experiment = client.get_experiment_by_name(setup["experiment"])
    if experiment is None:
        experiment_id = client.create_experiment(
            setup["experiment"], artifact_location=setup.get("artifact_location")
        )
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id, run_name=setup.get("run_name"))
    LOG.info(
        "MLflow run %s in experiment %r at %s", run.info.run_id, setup["experiment"], setup["uri"]
    )
    return run.info.run_id


class Tracker:
    """Log metrics, params and artifacts to disk at once and to MLflow in the background."""

    def __init__(
        self,
        *,
        run_dir: str | Path,
        uri: str | None,
        experiment: str,
        run_name: str | None,
        params: dict[str, str],
        tags: dict[str, str],
        retry_seconds: float,
    ) -> None:
        run_dir = Path(run_dir)
        self.record = TrackingRecord(run_dir)
        self.retry_seconds = retry_seconds
        if not self.record.exists():  # a resumed run keeps its MLflow run
            local = uri is None or uri.startswith("sqlite:")
            self.record.write_setup(
                {
                    "uri": uri or default_tracking_uri(run_dir),
                    "experiment": experiment,
                    "run_name": run_name,
                    "params": params,
                    "tags": tags,
                    "artifact_location": (run_dir / "mlartifacts").resolve().as_uri()
                    if local
                    else None,
                }
            )
        else:  # resuming: the run is running again until close() says otherwise
            (self.record.folder / "final_status.txt").unlink(missing_ok=True)
            state = self.record.state()
            state["status"] = None
            self.record.save_state(state)
        self.uri = self.record.setup()["uri"]
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failing = False
        self._uploaded_all = False
        self._final_status: str | None = None
        self._thread = threading.Thread(target=self._loop, name="wx-mlflow-upload", daemon=True)
        self._thread.start()

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.record.append_metrics(metrics, step)
        self._wake.set()

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.record.append_artifact(Path(path).resolve(), artifact_path)
        self._wake.set()

    def close(self, *, status: str = "FINISHED", timeout: float = 30.0) -> bool:
        """Finish the MLflow run (last upload within ``timeout`` s); False if ``sync`` is needed."""
        self.record.save_final_status(status)
        self._final_status = status
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive() or not self._uploaded_all:
            LOG.warning(
                "MLflow at %s did not take everything; it is kept in %s: upload it later with "
                "`wx-training mlflow sync %s`",
                self.uri,
                self.record.folder,
                self.record.folder.parent,
            )
            return False
        return True

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            final = self._stop.is_set()
            self._uploaded_all = self._attempt(self._final_status if final else None)
            if final:
                return
            if not self._uploaded_all:
                self._stop.wait(self.retry_seconds)
                self._wake.set()

    def _attempt(self, finished_status: str | None) -> bool:
        try:
            upload_pending(self.record, finished_status=finished_status)
        except Exception as error:
            if not self._failing:
                LOG.warning(
                    "MLflow upload to %s failed (%s); training continues, metrics are kept in "
                    "%s and retried every %g s",
                    self.uri,
                    _one_line(error),
                    self.record.metrics_path,
                    self.retry_seconds,
                )
            self._failing = True
            return False
        if self._failing:
            LOG.info("MLflow upload to %s works again", self.uri)
        self._failing = False
        return True


def sync_run(
    run_dir: str | Path, *, uri: str | None = None, status: str | None = None
) -> dict[str, int]:
    """Upload what a run directory holds that its tracking server lacks (``mlflow sync``).

    With ``uri`` other than the run's own, everything is uploaded there as a new MLflow run.
    """
    record = TrackingRecord(run_dir)
    if not record.exists():
        raise FileNotFoundError(f"{run_dir}: no tracking record ({record.setup_path} is missing)")
    setup = record.setup()
    if uri is not None and uri != setup["uri"]:
        LOG.info(
            "uploading %s to %s as a new MLflow run (it was tracked at %s)",
            run_dir,
            uri,
            setup["uri"],
        )
        record.write_setup({**setup, "uri": uri, "artifact_location": None})
        record.save_state(
            {"run_id": None, "metrics_uploaded": 0, "artifacts_uploaded": 0, "params": False}
        )
    finished = status or record.final_status()
    return upload_pending(record, finished_status=finished)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
