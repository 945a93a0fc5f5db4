"""Check a store against its own header: layout, chunks, NaN policies, statistics, checksums.

Every date's chunk is read back: a chunk that is absent (for a date not declared missing), that
cannot be decoded, or whose CRC-32 differs from ``date_checksum`` is reported with its date.
Statistics are recomputed with the same date-ordered merge and compared, and the content checksum
is recomputed from the arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wx_datasets.chunks import DateChunks, content_checksum
from wx_datasets.errors import StoreError
from wx_datasets.statistics import ROW, date_partials, empty_partials, merge_partials
from wx_datasets.store import BUILD_GROUP, STATISTICS, header_of, open_root
from wx_datasets.store import content_checksum as dataset_checksum
from wx_utils.dates import date_range, parse_datetime, to_iso
from wx_utils.progress import progress

STATISTICS_TOLERANCE = 1e-9  # relative; the recomputation uses the same merge order


def validate_dataset(path: str | Path) -> list[str]:
    """Problems found in the store at ``path`` (an empty list when it is sound)."""
    root = open_root(path)
    header = header_of(root, source=str(path), require_complete=False)
    if not header.get("complete"):
        return [f"{path}: incomplete build (no 'complete: true'); resume or finalise it"]
    problems = _check_layout(root, header)
    if problems:
        return problems
    checksums, partials, chunk_problems = _check_chunks(path, root, header)
    problems += chunk_problems
    if chunk_problems:
        problems.append("statistics not recomputed: some chunks cannot be read")
    else:
        problems += _check_statistics(root, header, partials)
    if not np.array_equal(checksums, root["date_checksum"][...]):
        bad = np.flatnonzero(checksums != root["date_checksum"][...])
        dates = root["dates"][...]
        if not chunk_problems:
            problems += [
                f"date {to_iso(dates[t])}: data differs from its checksum" for t in bad[:10]
            ]
    expected = dataset_checksum(root, header)
    if expected != header.get("checksum"):
        problems.append(
            f"content checksum {header.get('checksum')} in the header does not match the arrays "
            f"({expected})"
        )
    if BUILD_GROUP in root:
        problems.append(f"leftover '{BUILD_GROUP}' group; run 'wx-datasets finalise {path}'")
    return problems


def _check_layout(root, header) -> list[str]:
    problems = []
    for name in ("data", "dates", "latitudes", "longitudes", "date_checksum", *STATISTICS):
        if name not in root:
            problems.append(f"array {name!r} is missing")
    if problems:
        return problems
    dates = date_range(header["start"], header["end"], header["frequency"])
    expected = (
        dates.size,
        len(header["variables"]),
        header["ensemble_size"],
        root["latitudes"].shape[0],
    )
    if tuple(root["data"].shape) != expected:
        problems.append(f"data has shape {root['data'].shape}, the header implies {expected}")
    if not np.array_equal(root["dates"][...].astype("datetime64[s]"), dates):
        problems.append("dates differ from start/end/frequency in the header")
    for name in STATISTICS:
        if root[name].shape != (len(header["variables"]),):
            problems.append(f"{name} has shape {root[name].shape}, expected one value per variable")
    shape = header["grid"].get("shape")
    if shape is not None and int(np.prod(shape)) != root["latitudes"].shape[0]:
        problems.append(f"grid shape {shape} does not match {root['latitudes'].shape[0]} cells")
    return problems


def _check_chunks(path, root, header):
    """CRC and partial statistics of every date, and the problems found reading chunks."""
    data = root["data"]
    dates = root["dates"][...].astype("datetime64[s]")
    missing = np.isin(dates, np.array(header["missing_dates"], dtype="datetime64[s]"))
    local = DateChunks(Path(str(path)) / "data") if "://" not in str(path) else None
    if local is not None and not local.supported:
        local = None
    names = header["variables"]
    policies = [header["variables_metadata"][n].get("nan_policy", "forbid") for n in names]
    checksums = np.zeros(dates.size, dtype=np.uint32)
    partials = empty_partials(dates.size, len(names))
    problems = []
    previous = None
    for t in progress(range(dates.size), description="validating", unit="date"):
        if missing[t]:
            previous = None
            continue
        values, problem = _read_date(local, data, t, dates[t])
        if problem:
            problems.append(problem)
            previous = None
            continue
        checksums[t] = content_checksum(values)
        partials[t] = date_partials(values[None], np.array([True]), previous)[0]
        size = values[0].size
        for v in np.flatnonzero(partials[t, ROW["count"]] < size):
            if policies[v] == "forbid":
                problems.append(
                    f"variable {names[v]!r} has NaN values at {to_iso(dates[t])} but its NaN "
                    "policy is 'forbid'"
                )
        previous = values
    return checksums, partials, problems


def _read_date(local, data, t, date):
    if local is not None:
        values = np.empty(data.shape[1:], dtype=np.float32)
        try:
            if not local.read_into(t, values):
                return None, f"date {to_iso(date)}: chunk missing from {local.file_path(t)}"
        except StoreError as error:
            return None, f"date {to_iso(date)}: {error}"
        return values, None
    try:
        return data[t], None
    except Exception as error:  # any codec failure of a remote or sharded store is a finding
        return None, f"date {to_iso(date)}: chunk cannot be read ({error})"


def _check_statistics(root, header, partials) -> list[str]:
    dates = root["dates"][...].astype("datetime64[s]")
    period = (dates >= parse_datetime(header["statistics"]["start"])) & (
        dates <= parse_datetime(header["statistics"]["end"])
    )
    recomputed = merge_partials(partials, in_period=period)
    problems = []
    for name in STATISTICS:
        stored = root[name][...]
        close = np.isclose(
            stored, recomputed[name], rtol=STATISTICS_TOLERANCE, atol=0, equal_nan=True
        )
        for v in np.flatnonzero(~close):
            problems.append(
                f"{name} of {header['variables'][v]!r} is {float(stored[v]):.12g} but the data "
                f"give {float(recomputed[name][v]):.12g}"
            )
    return problems
