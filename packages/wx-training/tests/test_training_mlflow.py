"""MLflow tracking: the default SQLite store, and a real `mlflow server` that goes down mid-run.

The server is stopped with SIGSTOP (it stops answering: requests time out, as with a hung or
partitioned server) and brought back with SIGCONT, which costs nothing, where killing it and
starting a second `mlflow server` would cost about 20 s of CPU. Refused connections (nothing
listening) are covered by ``test_unreachable_server_loses_nothing``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from wx_models.sharding.local import free_port
from wx_training.cli import main
from wx_training.config import compose_config
from wx_training.tracking import Tracker, TrackingRecord
from wx_training.train import train


class MlflowServer:
    """``mlflow server`` on loopback, in its own process group so it can be stopped whole."""

    def __init__(self, *, database, artifacts, port: int, log) -> None:
        self.command = [
            # the mlflow of this interpreter's environment, whether or not its bin/ is on PATH
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{database}",
            "--artifacts-destination",
            str(artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        """Start the process without waiting for it to answer."""
        with open(self.log, "ab") as log:
            # Job execution (an MLflow feature unused here) would start seven more processes.
            environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=log, env=environment, start_new_session=True
            )

    def start(self, timeout: float = 150.0) -> None:
        """Start the server (unless launched already) and wait until it answers."""
        if self.process is None:
            self.launch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        pytest.fail(f"mlflow server did not start: {self.log.read_text()[-2000:]}")

    def suspend(self) -> None:
        """Stop every process of the server (SIGSTOP): it no longer answers."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Continue the stopped server and wait until it answers again."""
        os.killpg(self.process.pid, signal.SIGCONT)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)  # a stopped process cannot exit
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def metric_lines(run_dir) -> list[dict]:
    return [
        json.loads(line)
        for line in (run_dir / "tracking" / "metrics.jsonl").read_text().splitlines()
    ]


def test_unreachable_server_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    tracker = Tracker(
        run_dir=tmp_path,
        uri=f"http://127.0.0.1:{free_port()}",
        experiment="nowhere",
        run_name="r",
        params={"a": "1"},
        tags={},
        retry_seconds=0.1,
    )
    for step in range(1, 6):
        tracker.log_metrics({"train/loss": 1.0 / step}, step)
    assert tracker.close(timeout=20) is False
    record = TrackingRecord(tmp_path)
    assert [line["step"] for line in metric_lines(tmp_path)] == [1, 2, 3, 4, 5]
    assert record.state()["metrics_uploaded"] == 0 and record.final_status() == "FINISHED"
    assert json.loads(record.setup_path.read_text())["uri"].startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_default_sqlite_then_server_outage_and_sync(tiny_overrides, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")

    # The tracking server boots (slowly) while the first run trains.
    server = MlflowServer(
        database=tmp_path / "server.db",
        artifacts=tmp_path / "artifacts",
        port=free_port(),
        log=tmp_path / "server.log",
    )
    server.launch()
    try:
        # 1. Default tracking: sqlite:///<run_dir>/mlflow.db, everything uploaded at the end.
        local = train(
            compose_config(
                tiny_overrides(
                    "tracking=mlflow",
                    "training.max_steps=2",
                    "training.validation.plots=false",
                    run="local",
                )
            )
        )
        database = tmp_path / "local" / "mlflow.db"
        client = MlflowClient(tracking_uri=f"sqlite:///{database}")
        state = TrackingRecord(tmp_path / "local").state()
        run = client.get_run(state["run_id"])
        assert run.info.status == "FINISHED" and run.data.params["model.latent_size"] == "16"
        assert run.data.tags["wx.run_dir"] == str((tmp_path / "local").resolve())
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1, 2]
        assert run.data.metrics["val/rmse/air/12h"] == pytest.approx(
            local["validation"]["rmse"]["air"][1]
        )
        assert "inference-last.safetensors" in {
            a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "checkpoints")
        }

        # 2. The tracking server stops answering after step 2 of 4; training goes on.
        server.start()
        remote = tmp_path / "remote"

        def stop_server(trainer):
            if trainer.step == 2:
                deadline = time.monotonic() + 60
                while (
                    TrackingRecord(remote).state()["metrics_uploaded"] == 0
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.2)  # let the first upload through, so the outage is mid-run
                assert TrackingRecord(remote).state()["metrics_uploaded"] > 0
                server.suspend()

        summary = train(
            compose_config(
                tiny_overrides(
                    "tracking=mlflow",
                    f"tracking.uri={server.url}",
                    "tracking.experiment=outage",
                    "tracking.retry_seconds=0.2",
                    "training.max_steps=4",
                    "training.validation.every=2",
                    run="remote",
                )
            ),
            callbacks=[stop_server],
        )
        assert summary["step"] == 4  # training did not stop with the server
        lines = metric_lines(remote)
        assert [line["step"] for line in lines if line["key"] == "train/loss"] == [1, 2, 3, 4]
        assert TrackingRecord(remote).state()["metrics_uploaded"] < len(lines)

        # 3. The server comes back; `wx-training mlflow sync` uploads what it missed.
        server.resume()
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")  # the server is up: be patient
        assert main(["mlflow", "sync", str(remote)]) == 0
        client = MlflowClient(tracking_uri=server.url)
        run = client.get_run(TrackingRecord(remote).state()["run_id"])
        assert run.info.status == "FINISHED"
        # Complete and without duplicates, although requests sent during the outage may have
        # been applied when the server came back and were then sent again by the sync.
        history = sorted(
            (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train/loss")
        )
        assert history == [
            (line["step"], line["value"]) for line in lines if line["key"] == "train/loss"
        ]
        for key in (
            "val/rmse/air/6h",
            "val/persistence/air/12h",
            "train/lr",
            "train/grad_norm",
            "train/samples_per_second",
        ):
            logged = [line["step"] for line in lines if line["key"] == key]
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == logged, key
        assert {"plots", "checkpoints", "config.yaml", "provenance.json"} <= {
            a.path for a in client.list_artifacts(run.info.run_id)
        }
        assert TrackingRecord(remote).state()["metrics_uploaded"] == len(lines)
    finally:
        server.stop()
