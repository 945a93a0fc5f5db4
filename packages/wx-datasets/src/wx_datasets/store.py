"""The dataset store layout (zarr v3) shared with training and inference (see DESIGN.md).

Arrays (with zarr v3 ``dimension_names``, so ``xarray.open_zarr`` sees named dimensions and the
coordinates listed in ``data``'s ``coordinates`` attribute):

- ``data`` float32 ``[time, variable, ensemble, cell]``, one chunk per date (or shards of
  ``dates_per_shard`` dates with one inner chunk per date), NaN where a date is missing, with
  flat chunk keys ``c.<date>.0.0.0``;
- ``dates`` datetime64[s] ``[time]``, ``variable`` str ``[variable]``, ``latitudes`` and
  ``longitudes`` float64 degrees ``[cell]``, ``area_weight`` ``[cell]`` (rectilinear grids);
- statistics float64 ``[variable]``: ``mean``, ``stdev``, ``minimum``, ``maximum``,
  ``tendency_mean``, ``tendency_stdev``; ``date_checksum`` uint32 ``[time]`` (CRC-32 of each
  date's float32 bytes);
- ``_build/``: bookkeeping of an unfinished build (per-date partial statistics and checksums,
  a done flag per block of dates), removed when the store is finalised.

The root attribute ``wx`` is the header; ``complete: true`` is written last.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from wx_datasets.errors import IncompleteDatasetError, StoreError
from wx_datasets.grids import Grid, area_weights
from wx_datasets.recipe import OutputSpec
from wx_utils.artifacts import WX_METADATA_KEY
from wx_utils.metadata import REGISTRY, MetadataError, check_header, to_json

FORMAT_NAME = "wx-dataset"
FORMAT_VERSION = 1
BUILD_GROUP = "_build"
STATISTICS = ("mean", "stdev", "minimum", "maximum", "tendency_mean", "tendency_stdev")


def compressors(output: OutputSpec) -> list | None:
    level = output.compression_level
    if output.compression == "blosc-lz4":
        return [BloscCodec(cname="lz4", clevel=level, shuffle="shuffle", typesize=4)]
    if output.compression == "blosc-zstd":
        return [BloscCodec(cname="zstd", clevel=level, shuffle="shuffle", typesize=4)]
    if output.compression == "zstd":
        return [ZstdCodec(level=level)]
    return None


def write_skeleton(
    path: Path,
    *,
    header: dict[str, Any],
    dates: np.ndarray,
    variables: list[str],
    ensemble_size: int,
    grid: Grid,
    output: OutputSpec,
    block_dates: int,
) -> None:
    """Create the empty store at ``path`` (which must not exist): arrays, header, bookkeeping."""
    root = zarr.open_group(path, mode="w-", zarr_format=3)
    shape = (dates.size, len(variables), ensemble_size, grid.size)
    chunk = (1, *shape[1:])
    shards = (output.dates_per_shard, *shape[1:]) if output.dates_per_shard > 1 else None
    data = root.create_array(
        "data",
        shape=shape,
        chunks=chunk,
        shards=shards,
        dtype="float32",
        fill_value=np.nan,
        compressors=compressors(output),
        # flat keys ("c.12.0.0.0"): one file per date, no directory per date
        chunk_key_encoding={"name": "default", "separator": "."},
        dimension_names=["time", "variable", "ensemble", "cell"],
        config={"write_empty_chunks": True},
    )
    data.attrs["coordinates"] = "dates latitudes longitudes"
    _small_array(root, "dates", dates.astype("datetime64[s]"), ["time"])
    _small_array(root, "variable", np.array(variables, dtype=object), ["variable"], dtype=str)
    _small_array(root, "latitudes", grid.latitudes, ["cell"])
    _small_array(root, "longitudes", grid.longitudes, ["cell"])
    weights = area_weights(grid)
    if weights is not None:
        _small_array(root, "area_weight", weights, ["cell"])
    build = root.create_group(BUILD_GROUP)
    blocks = -(-dates.size // block_dates)
    build.attrs.update({"block_dates": block_dates, "blocks": blocks})
    _bookkeeping(
        build,
        "partials",
        (dates.size, 8, len(variables)),
        (block_dates, 8, len(variables)),
        "float64",
    )
    _bookkeeping(build, "checksums", (dates.size,), (block_dates,), "uint32")
    _bookkeeping(build, "done", (blocks,), (1,), "uint8")
    root.attrs[WX_METADATA_KEY] = header


def _small_array(
    group: zarr.Group, name: str, values: np.ndarray, dims: list[str], dtype=None
) -> None:
    array = group.create_array(
        name,
        shape=values.shape,
        chunks=values.shape,
        dtype=dtype or values.dtype,
        dimension_names=dims,
        compressors=None,
    )
    array[...] = values


def _bookkeeping(group, name, shape, chunks, dtype) -> None:
    group.create_array(
        name,
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        fill_value=0,
        compressors=None,
        config={"write_empty_chunks": True},
    )


def write_statistics(root: zarr.Group, statistics: dict[str, np.ndarray]) -> None:
    for name in STATISTICS:
        _replace_array(root, name, np.asarray(statistics[name], dtype=np.float64), ["variable"])


def _replace_array(root: zarr.Group, name: str, values: np.ndarray, dims: list[str]) -> None:
    array = root.create_array(
        name,
        shape=values.shape,
        chunks=values.shape,
        dtype=values.dtype,
        dimension_names=dims,
        compressors=None,
        overwrite=True,
    )
    array[...] = values


def write_date_checksums(root: zarr.Group, checksums: np.ndarray) -> None:
    _replace_array(root, "date_checksum", checksums.astype(np.uint32), ["time"])


def read_header(path: str | Path, *, require_complete: bool = True) -> dict[str, Any]:
    """The ``wx`` header of the store at ``path`` (local or URL), migrated to this version."""
    root = open_root(path)
    return header_of(root, source=str(path), require_complete=require_complete)


def open_root(path: str | Path, *, mode: str = "r") -> zarr.Group:
    text = str(path)
    if "://" not in text and not Path(text).exists():
        raise FileNotFoundError(f"{text}: no such dataset")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return zarr.open_group(text, mode=mode)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError) as error:
        raise StoreError(f"{text}: not a zarr store ({error})") from None


def header_of(root: zarr.Group, *, source: str, require_complete: bool) -> dict[str, Any]:
    header = root.attrs.get(WX_METADATA_KEY)
    try:
        check_header(header, format_name=FORMAT_NAME, source=source)
        header = REGISTRY.upgrade(
            dict(header), format_name=FORMAT_NAME, current_version=FORMAT_VERSION, source=source
        )
    except MetadataError as error:
        raise StoreError(str(error)) from None
    if require_complete and not header.get("complete"):
        raise IncompleteDatasetError(
            f"{source}: the dataset is incomplete (its build was interrupted or its parts are "
            "not finished); resume it with 'wx-datasets create RECIPE "
            f"{source} --resume' or, once every part is done, 'wx-datasets finalise {source}'"
        )
    return header


def write_header(root: zarr.Group, header: dict[str, Any]) -> None:
    """Replace the header (zarr writes ``zarr.json`` through a temporary file)."""
    root.attrs[WX_METADATA_KEY] = json.loads(to_json(header))


def consolidate(path: Path) -> None:
    """Consolidate metadata so ``xarray.open_zarr`` opens the store without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(path))


def content_checksum(root: zarr.Group, header: dict[str, Any]) -> str:
    """SHA-256 of the dataset's content: description, coordinates, per-date CRCs, statistics.

    Provenance (creation time, host, command) and the recipe (file paths) are left out, so two
    builds of the same data give the same checksum.
    """
    digest = hashlib.sha256()
    described = {
        key: header.get(key)
        for key in (
            "variables",
            "variables_metadata",
            "ensemble_size",
            "frequency",
            "start",
            "end",
            "missing_dates",
            "grid",
        )
    }
    described["statistics_period"] = [header["statistics"]["start"], header["statistics"]["end"]]
    digest.update(to_json(described).encode())
    names = ["dates", "latitudes", "longitudes", "area_weight", "date_checksum", *STATISTICS]
    for name in names:
        if name in root:
            values = np.ascontiguousarray(root[name][...])
            digest.update(name.encode())
            digest.update(values.view(np.uint8).tobytes())
    return f"sha256:{digest.hexdigest()}"
