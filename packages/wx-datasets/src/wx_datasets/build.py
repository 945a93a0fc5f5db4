"""Build a dataset store from a recipe: initialise, fill blocks of dates in parallel, finalise.

The time axis is cut into blocks of dates (a multiple of the shard size). Each block is one dask
task that reads its dates (and the date before, for the first tendency) from the input, checks
NaN policies, writes one chunk per date through a temporary file, and records per-date partial
statistics and CRCs; a block's done flag is written last, so an interrupted build redoes at most
the blocks that were running. ``--part i/N`` builds only the i-th of N slices of blocks (HPC
array jobs); :func:`finalise` merges the partials in date order (so the result does not depend
on the split), writes statistics and the content checksum, and only then sets ``complete``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wx_datasets.chunks import DateChunks, content_checksum
from wx_datasets.errors import IncompleteDatasetError, NaNPolicyError, RecipeError, StoreError
from wx_datasets.plan import DatasetPlan, dataset_header, plan_dataset
from wx_datasets.recipe import Recipe, load_recipe, parse_recipe
from wx_datasets.statistics import ROW, constant_fields, date_partials, merge_partials
from wx_datasets.store import (
    BUILD_GROUP,
    consolidate,
    header_of,
    open_root,
    write_date_checksums,
    write_header,
    write_skeleton,
    write_statistics,
)
from wx_datasets.store import content_checksum as dataset_checksum
from wx_utils.dates import parse_datetime, to_iso
from wx_utils.metadata import to_json
from wx_utils.progress import progress
from wx_utils.provenance import provenance

LOG = logging.getLogger(__name__)
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
BLOCK_BYTES = 64 * 2**20


def parse_part(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: the second of four parts."""
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--part {text!r}: expected i/N such as 2/4") from None
    if not 1 <= index <= count:
        raise ValueError(f"--part {text!r}: expected 1 <= i <= N")
    return index, count


def create(
    recipe: str | Path | dict | Recipe,
    output: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    part: tuple[int, int] | None = None,
    scheduler: str = "threads",
    workers: int | None = None,
    block_dates: int | None = None,
    after_block: Callable[[int], None] | None = None,
) -> Path:
    """Build (or resume, or build one part of) the dataset of ``recipe`` at ``output``.

    Without ``part`` the store is finalised at the end. ``scheduler`` is ``threads``,
    ``processes``, ``synchronous`` or a ``dask.distributed`` scheduler address.
    ``after_block(block)`` is called in this process as each block completes.
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    output = Path(output)
    if "://" in str(output):
        raise ValueError(f"{output}: datasets are created in local directories (copy them later)")
    if part is not None and overwrite:
        raise ValueError(
            "--overwrite with --part would let each part wipe the others' work; remove the "
            "old store first"
        )
    state = _existing_state(output)
    if state == "complete" and not overwrite:
        if resume:
            LOG.info("%s is already complete; nothing to resume", output)
            return output
        raise FileExistsError(
            f"{output}: a complete dataset exists; pass --overwrite to replace it"
        )
    if state == "foreign" and not overwrite:
        raise FileExistsError(
            f"{output}: exists and is not a wx dataset; pass --overwrite to replace it"
        )
    if state == "incomplete" and not (overwrite or resume or part):
        raise FileExistsError(
            f"{output}: an unfinished build exists; pass --resume to continue it or "
            "--overwrite to start again"
        )
    plan = plan_dataset(recipe)
    if state in (None, "foreign", "complete") or overwrite:
        _initialise(output, plan, block_dates=block_dates, replace=state is not None)
    else:
        _check_same_recipe(output, recipe)
    _cache_plan(output, plan)
    blocks = pending_blocks(output, part=part)
    run_blocks(output, blocks, scheduler=scheduler, workers=workers, after_block=after_block)
    if part is None:
        finalise(output)
    else:
        LOG.info(
            "part %d/%d of %s done; run 'wx-datasets finalise %s' after every part",
            *part,
            output,
            output,
        )
    return output


def _existing_state(output: Path) -> str | None:
    if not output.exists():
        return None
    try:
        header = header_of(open_root(output), source=str(output), require_complete=False)
    except (StoreError, OSError):
        return "foreign"
    return "complete" if header.get("complete") else "incomplete"


def default_block_dates(plan: DatasetPlan) -> int:
    """Dates per task: about 64 MiB of float32 fields, a whole number of shards."""
    per_date = max(len(plan.names) * plan.source.ensemble_size * plan.source.grid.size * 4, 1)
    dates = int(np.clip(BLOCK_BYTES // per_date, 1, 256))
    shard = plan.recipe.output.dates_per_shard
    return max(shard, dates // shard * shard)


def _initialise(output: Path, plan: DatasetPlan, *, block_dates: int | None, replace: bool) -> None:
    """Write the empty store under a temporary name, then move it into place."""
    shard = plan.recipe.output.dates_per_shard
    block = block_dates or default_block_dates(plan)
    if block % shard:
        raise ValueError(f"block of {block} dates is not a multiple of dates_per_shard {shard}")
    temporary = output.with_name(f".{output.name}.{uuid.uuid4().hex}.init")
    header = dataset_header(plan, provenance=provenance(plan.recipe.normalised))
    try:
        write_skeleton(
            temporary,
            header=header,
            dates=plan.dates,
            variables=list(plan.names),
            ensemble_size=plan.source.ensemble_size,
            grid=plan.source.grid,
            output=plan.recipe.output,
            block_dates=block,
        )
        if replace:
            old = output.with_name(f".{output.name}.{uuid.uuid4().hex}.old")
            os.replace(output, old)
            os.replace(temporary, output)
            _remove(old)
        else:
            _move_new(temporary, output, plan.recipe)
    finally:
        if temporary.exists():
            _remove(temporary)
    LOG.info(
        "initialised %s: %d dates x %d variables x %d members x %d cells, %d dates per task",
        output,
        plan.dates.size,
        len(plan.names),
        plan.source.ensemble_size,
        plan.source.grid.size,
        block,
    )


def _move_new(temporary: Path, output: Path, recipe: Recipe) -> None:
    """Rename into place; if another part won the race, check it was made from this recipe."""
    try:
        os.rename(temporary, output)
    except OSError:
        if not output.exists():
            raise
        _check_same_recipe(output, recipe)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _check_same_recipe(output: Path, recipe: Recipe) -> None:
    header = header_of(open_root(output), source=str(output), require_complete=False)
    if to_json(header["recipe"]) != to_json(recipe.normalised):
        raise RecipeError(
            f"{output}: the unfinished build was started from a different recipe; pass "
            "--overwrite to start again with this one"
        )


# -- blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WorkerState:
    plan: DatasetPlan
    block_dates: int
    data: DateChunks | None  # None for layouts chunks.py does not handle (written through zarr)


_STATES: dict[tuple[str, str], _WorkerState] = {}
_STATES_LOCK = threading.Lock()
_STATES_KEPT = 4  # open inputs kept per process (long-lived distributed workers)


def _cache_plan(output: Path, plan: DatasetPlan) -> None:
    with _STATES_LOCK:
        _remember(_state_key(output), _make_state(output, plan))


def _remember(key: tuple[str, str], state: _WorkerState) -> None:
    _STATES[key] = state
    while len(_STATES) > _STATES_KEPT:
        _STATES.pop(next(iter(_STATES)))


def _state_key(output: Path) -> tuple[str, str]:
    """The store's path and identity: a store rebuilt at the same path gets a new plan."""
    header = header_of(open_root(output), source=str(output), require_complete=False)
    identity = to_json([header["recipe"], header["provenance"].get("created")])
    return str(Path(output).resolve()), hashlib.sha256(identity.encode()).hexdigest()


def _make_state(output: Path, plan: DatasetPlan) -> _WorkerState:
    root = open_root(output)
    block = int(root[BUILD_GROUP].attrs["block_dates"])
    data = DateChunks(Path(output) / "data")
    return _WorkerState(plan=plan, block_dates=block, data=data if data.supported else None)


def _worker_state(store: str) -> _WorkerState:
    """The plan of ``store`` opened once per process (workers of any scheduler)."""
    key = _state_key(Path(store))
    with _STATES_LOCK:
        if key not in _STATES:
            header = header_of(open_root(store), source=store, require_complete=False)
            recipe = parse_recipe(header["recipe"], base_dir=Path(store).parent)
            _remember(key, _make_state(Path(store), plan_dataset(recipe)))
        return _STATES[key]


def block_count(output: Path) -> tuple[int, int]:
    build = open_root(output)[BUILD_GROUP]
    return int(build.attrs["blocks"]), int(build.attrs["block_dates"])


def done_blocks(output: Path) -> np.ndarray:
    """Done flag of each block ``[block]`` bool."""
    return open_root(output)[f"{BUILD_GROUP}/done"][...].astype(bool)


def pending_blocks(output: Path, *, part: tuple[int, int] | None = None) -> list[int]:
    count, _ = block_count(output)
    chosen = np.arange(count)
    if part is not None:
        chosen = np.array_split(chosen, part[1])[part[0] - 1]
    done = done_blocks(output)
    return [int(b) for b in chosen if not done[b]]


def build_block(store: str, block: int) -> int:
    """Read, check, write and summarise one block of dates; returns the block index."""
    state = _worker_state(store)
    plan = state.plan
    first = block * state.block_dates
    last = min(first + state.block_dates, plan.dates.size)
    present = plan.present[first:last]
    previous = first > 0 and bool(plan.present[first - 1])
    wanted = plan.dates[first:last][present]
    if previous:
        wanted = np.concatenate([plan.dates[first - 1 : first], wanted])
    loaded = plan.source.load(wanted)  # [time, variable, ensemble, cell]
    if not np.array_equal(plan.source_index, np.arange(len(plan.source.variables))):
        loaded = loaded[:, plan.source_index]
    fields = loaded[1:] if previous else loaded
    if present.all():
        values = fields
    else:  # missing dates stay NaN (and are not written)
        values = np.full((last - first, *loaded.shape[1:]), np.nan, dtype=np.float32)
        values[present] = fields
    partials = date_partials(values, present, loaded[0] if previous else None)
    _check_nans(plan, partials, first, values[0].size // values.shape[1])
    checksums = _write_dates(store, state, first, values, present)
    root = open_root(store, mode="r+")
    build = root[BUILD_GROUP]
    build["partials"][first:last] = partials
    build["checksums"][first:last] = checksums
    build["done"][block] = 1
    return block


def _check_nans(plan: DatasetPlan, partials: np.ndarray, first: int, size: int) -> None:
    counts = partials[:, ROW["count"]]  # [time, variable]
    for t, v in zip(
        *np.nonzero((counts < size) & plan.present[first : first + counts.shape[0], None]),
        strict=True,
    ):
        name = plan.names[v]
        if plan.variables_metadata[name]["nan_policy"] == "forbid":
            raise NaNPolicyError(
                f"variable {name!r} has {size - int(counts[t, v])} NaN values at "
                f"{to_iso(plan.dates[first + t])} but its NaN policy is 'forbid' "
                f"(set recipe.nans.{name}: allow to keep them)"
            )


def _write_dates(
    store: str, state: _WorkerState, first: int, values: np.ndarray, present: np.ndarray
) -> np.ndarray:
    checksums = np.zeros(values.shape[0], dtype=np.uint32)
    for t in np.flatnonzero(present):
        checksums[t] = content_checksum(values[t])
    if state.data is not None:
        state.data.write(first, values, present)
    else:
        open_root(store, mode="r+")["data"][first : first + values.shape[0]] = values
    return checksums


def run_blocks(
    output: Path,
    blocks: list[int],
    *,
    scheduler: str = "threads",
    workers: int | None = None,
    after_block: Callable[[int], None] | None = None,
) -> None:
    """Run the blocks with dask, showing a progress bar in dates."""
    if not blocks:
        return
    _count, block_dates = block_count(output)
    total_dates = open_root(output)["dates"].shape[0]
    sizes = {b: min(block_dates, total_dates - b * block_dates) for b in blocks}
    bar = progress(total=sum(sizes.values()), description=f"building {output.name}", unit="date")

    def finished(block: int) -> None:
        bar.update(sizes[block])
        if after_block is not None:
            after_block(block)

    store = str(output)
    try:
        if scheduler == "synchronous":  # in block order, in this thread: for debugging
            for block in blocks:
                finished(build_block(store, block))
        elif scheduler in LOCAL_SCHEDULERS:
            _run_local(store, blocks, scheduler=scheduler, workers=workers, finished=finished)
        else:
            _run_distributed(store, blocks, address=scheduler, finished=finished)
    finally:
        bar.close()


def _run_local(store, blocks, *, scheduler, workers, finished) -> None:
    import dask.multiprocessing
    import dask.threaded
    from dask.callbacks import Callback

    # A callable scheduler keeps dask from importing distributed to look for a client.
    get = {"threads": dask.threaded.get, "processes": dask.multiprocessing.get}[scheduler]

    tasks = [
        dask.delayed(build_block, pure=False)(store, b, dask_key_name=f"block-{b}") for b in blocks
    ]

    def posttask(key, result, dsk, state, worker_id):
        finished(result)

    with Callback(posttask=posttask):
        dask.compute(*tasks, scheduler=get, num_workers=workers or os.cpu_count())


def _run_distributed(store, blocks, *, address, finished) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError(
            f"--scheduler {address!r}: expected threads, processes, synchronous or a "
            "dask.distributed address (pip install 'wx-datasets[distributed]')"
        ) from None
    with Client(address) as client:
        futures = client.map(build_block, [store] * len(blocks), blocks, pure=False)
        for future in as_completed(futures):
            finished(future.result())


# -- finalise -----------------------------------------------------------------------------------


def finalise(output: str | Path) -> dict[str, Any]:
    """Merge statistics, write checksums and mark the store complete; returns the header."""
    output = Path(output)
    root = open_root(output, mode="r+")
    header = header_of(root, source=str(output), require_complete=False)
    if header.get("complete"):
        _tidy(output)
        return header
    done = done_blocks(output)
    if not done.all():
        raise IncompleteDatasetError(_describe_pending(output, np.flatnonzero(~done)))
    build = root[BUILD_GROUP]
    partials, checksums = build["partials"][...], build["checksums"][...]
    dates = root["dates"][...]
    period = (dates >= parse_datetime(header["statistics"]["start"])) & (
        dates <= parse_datetime(header["statistics"]["end"])
    )
    statistics = merge_partials(partials, in_period=period)
    write_statistics(root, statistics)
    write_date_checksums(root, checksums)
    constants = constant_fields(statistics, header["variables"])
    for kind, names in constants.items():
        if names:
            LOG.warning("%s: %s fields: %s", output, kind.replace("_", " "), ", ".join(names))
    header["statistics"] = {**header["statistics"], **constants}
    header["checksum"] = dataset_checksum(root, header)
    header["complete"] = True
    write_header(root, header)
    _tidy(output)
    LOG.info("%s complete, checksum %s", output, header["checksum"])
    return header


def _tidy(output: Path) -> None:
    if (output / BUILD_GROUP).exists():
        shutil.rmtree(output / BUILD_GROUP)
    consolidate(output)


def _describe_pending(output: Path, pending: np.ndarray) -> str:
    _, block_dates = block_count(output)
    dates = open_root(output)["dates"][...]
    ranges = []
    for block in pending[:5]:
        first = int(block) * block_dates
        last = min(first + block_dates, dates.size) - 1
        ranges.append(f"{to_iso(dates[first])}..{to_iso(dates[last])}")
    more = f" and {pending.size - 5} more" if pending.size > 5 else ""
    return (
        f"{output}: {pending.size} block(s) of dates are not built yet ({', '.join(ranges)}{more}); "
        f"run the missing parts or 'wx-datasets create RECIPE {output} --resume'"
    )


def recipe_of(output: str | Path) -> dict[str, Any]:
    """The normalised recipe stored in a store (complete or not)."""
    header = header_of(open_root(output), source=str(output), require_complete=False)
    return json.loads(to_json(header["recipe"]))
