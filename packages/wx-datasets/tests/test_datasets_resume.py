"""BuildStoppedError builds resume to the same store; parts and schedulers give the same store too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from wx_datasets import IncompleteDatasetError, RecipeError, create, finalise, open_dataset
from wx_datasets.build import done_blocks


class BuildStoppedError(Exception):
    pass


def _stop_after(count: int):
    finished = []

    def hook(block: int) -> None:
        finished.append(block)
        if len(finished) == count:
            raise BuildStoppedError(f"stopped after {count} blocks")

    return hook


def _files(store: Path) -> dict[str, bytes]:
    """Every file of a store except the header (whose provenance holds the creation time)."""
    return {
        str(p.relative_to(store)): p.read_bytes()
        for p in sorted(store.rglob("*"))
        if p.is_file() and p.relative_to(store) != Path("zarr.json")
    }


def _header(store: Path) -> dict:
    header = json.loads((store / "zarr.json").read_text())["attributes"]["wx"]
    header.pop("provenance")
    return header


def _assert_same_store(first: Path, second: Path) -> None:
    assert _files(first) == _files(second)
    assert _header(first) == _header(second)


def test_interrupted_build_resumes_to_an_identical_store(tmp_path, air_store, air_recipe):
    output = tmp_path / "air.zarr"
    with pytest.raises(BuildStoppedError):
        create(
            air_recipe(),
            output,
            block_dates=16,
            scheduler="synchronous",
            after_block=_stop_after(2),
        )
    assert done_blocks(output).sum() == 2
    with pytest.raises(IncompleteDatasetError, match="incomplete"):
        open_dataset(output)
    with pytest.raises(FileExistsError, match="--resume to continue it or --overwrite"):
        create(air_recipe(), output)
    with pytest.raises(RecipeError, match="different recipe"):
        create(air_recipe(description="another"), output, resume=True)
    create(air_recipe(), output, resume=True)
    _assert_same_store(output, air_store)


def test_torn_chunk_of_an_unfinished_block_is_rewritten(tmp_path, air_store, air_recipe):
    output = tmp_path / "air.zarr"
    with pytest.raises(BuildStoppedError):
        create(
            air_recipe(),
            output,
            block_dates=16,
            scheduler="synchronous",
            after_block=_stop_after(1),
        )
    done = done_blocks(output)
    unfinished = int(np.flatnonzero(~done)[0])
    torn = output / "data" / f"c.{unfinished * 16 + 3}.0.0.0"
    torn.write_bytes(b"half a chunk")  # as if the machine died while writing it
    create(air_recipe(), output, resume=True, scheduler="synchronous")
    _assert_same_store(output, air_store)


def test_parts_in_any_order_then_finalise(tmp_path, air_store, air_recipe):
    output = tmp_path / "air.zarr"
    create(air_recipe(), output, part=(3, 3), block_dates=16)
    with pytest.raises(
        IncompleteDatasetError,
        match=r"block\(s\) of dates are not built yet \(2013-01-01T00:00:00\.\.2013-01-04T18:00:00",
    ):
        finalise(output)
    create(air_recipe(), output, part=(1, 3))
    create(air_recipe(), output, part=(2, 3))
    finalise(output)
    _assert_same_store(output, air_store)


def test_distributed_scheduler(tmp_path, air_store, air_recipe):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        create(
            air_recipe(), tmp_path / "air.zarr", block_dates=16, scheduler=cluster.scheduler_address
        )
    _assert_same_store(tmp_path / "air.zarr", air_store)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("WX_SLOW_TESTS"),
    reason="starts interpreter processes (about 10 s on CI); set WX_SLOW_TESTS=1 to run",
)
def test_processes_scheduler(tmp_path, air_store, air_recipe):
    create(air_recipe(), tmp_path / "air.zarr", block_dates=16, scheduler="processes", workers=2)
    _assert_same_store(tmp_path / "air.zarr", air_store)
