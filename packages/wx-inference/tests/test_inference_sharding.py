"""``torchrun ... wx-inference run``: a forecast sharded over 2 and 4 processes equals one process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from wx_inference.cli import main
from wx_inference.output import open_forecast
from wx_models.sharding.local import run_local

INIT = "2014-01-05T00:00"


def run_rank(rank: int, world_size: int, arguments: list[str]) -> None:
    """One rank, started the way torchrun starts it: through environment variables."""
    assert main(arguments) == 0


def arguments(checkpoint, store, output, *extra: str) -> list[str]:
    return [
        "run",
        f"checkpoint={checkpoint}",
        f"input={store}",
        f"init_dates=[{INIT}]",
        "lead_time=1d",
        f"output={output}",
        *extra,
    ]


@pytest.fixture(scope="module")
def single_forecast(ncep_checkpoint, ncep_store, tmp_path_factory):
    output = tmp_path_factory.mktemp("single") / "forecast.zarr"
    assert main(arguments(ncep_checkpoint, ncep_store, output)) == 0
    return open_forecast(output)


@pytest.mark.distributed
def test_torchrun_command_line(single_forecast, ncep_checkpoint, ncep_store, tmp_path):
    """What users type: torchrun --standalone --nproc-per-node 2 ... wx-inference run ..."""
    output = tmp_path / "forecast.zarr"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "wx_inference.cli",
        *arguments(ncep_checkpoint, ncep_store, output),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "WX_PROGRESS": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "model sharded over 2 ranks" in done.stderr
    np.testing.assert_allclose(
        open_forecast(output)["air"].values, single_forecast["air"].values, rtol=0, atol=1e-4
    )


@pytest.mark.distributed
@pytest.mark.parametrize("world_size", [2, 4])
def test_sharded_forecast_equals_one_process(
    world_size, single_forecast, ncep_checkpoint, ncep_store, tmp_path
):
    output = tmp_path / "out" / "forecast.zarr"
    output.parent.mkdir()
    run_local(
        world_size,
        run_rank,
        arguments(ncep_checkpoint, ncep_store, output),
        process_group="environment",
    )
    sharded = open_forecast(output)
    assert sorted(p.name for p in output.parent.iterdir()) == ["forecast.zarr"]  # rank 0 only
    np.testing.assert_allclose(
        sharded["air"].values, single_forecast["air"].values, rtol=0, atol=1e-4
    )
    assert sharded.attrs["wx"]["checkpoint"] == single_forecast.attrs["wx"]["checkpoint"]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs (NCCL)")
def test_sharded_forecast_on_two_gpus(single_forecast, ncep_checkpoint, ncep_store, tmp_path):
    output = tmp_path / "forecast.zarr"
    run_local(
        2,
        run_rank,
        arguments(ncep_checkpoint, ncep_store, output, "device=cuda"),
        backend="nccl",
        process_group="environment",
    )
    np.testing.assert_allclose(
        open_forecast(output)["air"].values, single_forecast["air"].values, rtol=0, atol=1e-3
    )
