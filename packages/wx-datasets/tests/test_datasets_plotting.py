"""PNG maps from xarray datasets, dataset views and stores, and the ``plot`` subcommand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.image import imread

from wx_datasets.plotting import PlotError, add_plot_command, map_source, plot_maps
from wx_datasets.shallow_water.source import open_source
from wx_utils.cli_helpers import make_parser, run_cli

SMALL_RECIPE = {
    "name": "shallow-water-plot-test",
    "dates": {"start": "2000-01-01T00:00", "end": "2000-01-02T00:00", "frequency": "6h"},
    "input": {
        "type": "shallow-water",
        "truncation": 21,
        "spin_up_days": 1,
        "fields": ["z", "vorticity"],
        "constants": ["orography"],
    },
}


@pytest.fixture(scope="module")
def gridded() -> xr.Dataset:
    dates = np.datetime64("2000-01-01T00", "s") + np.arange(5) * np.timedelta64(6, "h")
    return open_source(
        {"truncation": 21, "spin_up_days": 1, "fields": ["z", "vorticity"], "members": 2},
        dates=dates,
    )


def _is_png_with_content(path) -> bool:
    image = imread(path)  # [row, column, channel]
    return image.ndim == 3 and image.shape[0] > 100 and float(image[..., :3].std()) > 0.05


def test_maps_of_a_gridded_dataset(gridded, tmp_path):
    written = plot_maps(gridded, variables=["z", "vorticity"], times=[0, 4], path=tmp_path)
    assert [path.name for path in written] == ["z.png", "vorticity.png"]
    assert all(_is_png_with_content(path) for path in written)
    assert not list(tmp_path.glob(".*partial"))  # written under a temporary name, then renamed


def test_gridded_source_reads_members_and_times_in_cell_order(gridded):
    source = map_source(gridded)
    assert source.grid_shape == (32, 64)
    field = source.read("vorticity", 3, 1)
    np.testing.assert_array_equal(field, gridded["vorticity"].values[3, 1].ravel())
    assert source.latitudes[0] == source.latitudes[63] > source.latitudes[64]  # row by row
    assert source.units["z"] == "m2 s-2"


def test_maps_of_unstructured_cells_use_a_scatter(gridded, tmp_path):
    cells = gridded[["z"]].stack(cell=("latitude", "longitude")).reset_index("cell")
    source = map_source(cells)
    assert source.grid_shape is None and source.latitudes.size == 32 * 64
    np.testing.assert_array_equal(source.read("z", 1, 0), gridded["z"].values[1, 0].ravel())
    written = plot_maps(cells, variables=["z"], times=[1], path=tmp_path)
    assert _is_png_with_content(written[0])


@pytest.mark.parametrize(
    ("variables", "times", "message"),
    [
        (["q"], [0], r"variables: q not in the dataset; it has z, vorticity"),
        (["z"], [5], r"times: index 5 out of range; the dataset has 5 dates \(0..4\)"),
        (["z"], [], "times: expected at least one time index"),
        ([], [0], "variables: expected at least one variable name"),
    ],
)
def test_bad_requests_name_what_is_wrong(gridded, tmp_path, variables, times, message):
    with pytest.raises(PlotError, match=message):
        plot_maps(gridded, variables=variables, times=times, path=tmp_path)


def test_member_out_of_range(gridded, tmp_path):
    with pytest.raises(PlotError, match=r"member 2 out of range; the dataset has 2 members"):
        plot_maps(gridded, variables=["z"], times=[0], path=tmp_path, member=2)


def test_unplottable_input():
    with pytest.raises(PlotError, match="cannot plot a list"):
        map_source([1, 2, 3])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small store built through the dataset pipeline, when that pipeline is present."""
    wx_datasets = pytest.importorskip("wx_datasets")
    if not hasattr(wx_datasets, "create") or not hasattr(wx_datasets, "open_dataset"):
        pytest.skip("wx_datasets.create / open_dataset are not available")
    folder = tmp_path_factory.mktemp("plot-store")
    path = folder / "small.zarr"
    wx_datasets.create(wx_datasets.load_recipe(SMALL_RECIPE, base_dir=folder), path)
    return path


def test_maps_of_a_store_and_its_view(store, tmp_path):
    from wx_datasets import open_dataset

    view = open_dataset(store)
    source = map_source(view)
    assert source.grid_shape == (32, 64)
    np.testing.assert_array_equal(
        source.read("vorticity", 2, 0), view[2][view.name_to_index["vorticity"], 0]
    )
    written = plot_maps(store, variables=["orography"], times=[4], path=tmp_path)
    assert _is_png_with_content(written[0])


def test_plot_command(store, tmp_path, capsys):
    parser, commands = make_parser(prog="wx-datasets", version="0", description="test")
    add_plot_command(commands)
    output = tmp_path / "maps"
    arguments = ["plot", str(store), "--variables", "z,vorticity", "--times", "0,4"]
    assert run_cli(parser, [*arguments, "--output", str(output)]) == 0
    assert sorted(p.name for p in output.iterdir()) == ["vorticity.png", "z.png"]
    assert str(output / "z.png") in capsys.readouterr().out
    status = run_cli(parser, ["plot", str(store), "--variables", "pv", "--output", str(output)])
    assert status == 2
    assert "variables: pv not in the dataset" in capsys.readouterr().err
    status = run_cli(
        parser, ["plot", str(store), "--variables", "z", "--times", "x", "--output", str(output)]
    )
    assert status == 2
    assert "--times 'x': expected comma-separated integers" in capsys.readouterr().err
