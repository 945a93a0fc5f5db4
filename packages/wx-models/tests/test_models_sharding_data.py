"""Per-rank reads: a rank's cells from a zarr store equal the full read, and nothing else is read."""

from __future__ import annotations

import numpy as np
import pytest

from wx_models.debug import random_graph
from wx_models.encode_process_decode import EncoderProcessorDecoder
from wx_models.sharding import plan_model, read_cells
from wx_models.sharding.data import cell_runs

zarr = pytest.importorskip("zarr")

TIME, VARIABLES, MEMBERS, CELLS = 3, 2, 1, 120


@pytest.fixture
def store(tmp_path):
    values = np.arange(TIME * VARIABLES * MEMBERS * CELLS, dtype=np.float32)
    values = values.reshape(TIME, VARIABLES, MEMBERS, CELLS)  # [time, variable, ensemble, cell]
    array = zarr.create_array(
        tmp_path / "data.zarr",
        shape=values.shape,
        chunks=(1, VARIABLES, MEMBERS, 10),
        dtype="float32",
    )
    array[...] = values
    return array, values


def test_each_rank_reads_its_own_cells_and_together_they_read_the_grid(store):
    array, values = store
    model = EncoderProcessorDecoder(
        graph=random_graph(grid_nodes=CELLS, mesh_nodes=20, seed=2),
        input_size=2,
        output_size=2,
        latent_size=8,
        processor_layers=1,
        mlp_hidden_size=8,
    )
    plan = plan_model(model, 4)
    total = 0
    for rank in plan.ranks:
        cells = rank.owned["data"]
        sample = read_cells(array, 1, cells)  # [variable, ensemble, owned cell]
        np.testing.assert_array_equal(sample, values[1][..., cells])
        total += sample.nbytes
        window = read_cells(array, slice(0, 2), cells)  # [time, variable, ensemble, owned cell]
        np.testing.assert_array_equal(window, values[0:2][..., cells])
    assert total == values[1].nbytes  # host memory per rank shrinks with the group size


def test_only_chunks_holding_the_cells_are_read(tmp_path, store):
    _, values = store
    read_keys = []

    class CountingStore(zarr.storage.LocalStore):
        async def get(self, key, *args, **kwargs):
            read_keys.append(key)
            return await super().get(key, *args, **kwargs)

    counted = zarr.open_array(CountingStore(tmp_path / "data.zarr"), mode="r")
    cells = np.array([3, 4, 5, 41, 42, 97])  # chunks 0, 4 and 9 of the 12 along cells
    np.testing.assert_array_equal(read_cells(counted, 2, cells), values[2][..., cells])
    chunk_keys = sorted(key for key in read_keys if key.startswith("c/"))
    assert chunk_keys == ["c/2/0/0/0", "c/2/0/0/4", "c/2/0/0/9"]


def test_numpy_arrays_and_contiguous_runs():
    values = np.random.default_rng(0).normal(size=(2, 3, 1, 50)).astype(np.float32)
    np.testing.assert_array_equal(read_cells(values, 0, np.arange(10, 20)), values[0][..., 10:20])
    np.testing.assert_array_equal(read_cells(values, 1, [1, 7, 8]), values[1][..., [1, 7, 8]])
    assert cell_runs(np.array([1, 2, 3, 7, 9, 10])) == [(1, 4), (7, 8), (9, 11)]
    assert cell_runs(np.array([], dtype=np.int64)) == []


def test_bad_cells_name_the_array():
    values = np.zeros((2, 3, 1, 50), dtype=np.float32)
    with pytest.raises(ValueError, match="data: cells must be strictly ascending"):
        read_cells(values, 0, [5, 3])
    with pytest.raises(ValueError, match=r"data: cell ids 10\.\.50 outside the 50 cells"):
        read_cells(values, 0, [10, 50])
    with pytest.raises(
        ValueError, match=r"store\.zarr/data: expected \[time, variable, ensemble, cell\]"
    ):
        read_cells(values[0], 0, [1], source="store.zarr/data")
