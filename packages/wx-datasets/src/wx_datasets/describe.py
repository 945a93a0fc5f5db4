"""Describe a store for people: variables with units and statistics, dates, grid, size, provenance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from wx_datasets.store import BUILD_GROUP, STATISTICS, header_of, open_root


def store_size(path: str | Path) -> tuple[int, int]:
    """Bytes and number of files of a local store."""
    total, files = 0, 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            total += os.path.getsize(os.path.join(folder, name))
            files += 1
    return total, files


def describe(path: str | Path) -> dict[str, Any]:
    """Everything ``inspect`` prints, as a JSON-friendly dict."""
    root = open_root(path)
    header = header_of(root, source=str(path), require_complete=False)
    data = root["data"]
    info: dict[str, Any] = {
        "path": str(path),
        "complete": bool(header.get("complete")),
        "description": header.get("description", ""),
        "shape": {
            "time": data.shape[0],
            "variable": data.shape[1],
            "ensemble": data.shape[2],
            "cell": data.shape[3],
        },
        "dates": {
            "start": header["start"],
            "end": header["end"],
            "frequency": header["frequency"],
            "count": data.shape[0],
            "missing": header["missing_dates"],
        },
        "grid": header["grid"],
        "chunking": {
            **header.get("chunking", {}),
            "chunk_shape": list(data.chunks),
            "shard_shape": list(data.shards) if data.shards else None,
        },
        "checksum": header.get("checksum"),
        "provenance": {
            k: header["provenance"].get(k) for k in ("created", "wx", "git", "hostname")
        },
        "statistics_period": header["statistics"],
    }
    if "://" not in str(path):
        size, files = store_size(path)
        info["size"] = {
            "bytes": size,
            "files": files,
            "uncompressed_bytes": int(np.prod(data.shape)) * 4,
        }
    info["variables"] = _variables(root, header)
    if not header.get("complete") and BUILD_GROUP in root:
        done = root[f"{BUILD_GROUP}/done"][...]
        info["build"] = {"blocks_done": int(done.sum()), "blocks": int(done.size)}
    return info


def _variables(root, header) -> list[dict[str, Any]]:
    complete = header.get("complete") and all(name in root for name in STATISTICS)
    statistics = {name: root[name][...] for name in STATISTICS} if complete else {}
    rows = []
    for index, name in enumerate(header["variables"]):
        entry = {"name": name, **header["variables_metadata"].get(name, {})}
        for key, values in statistics.items():
            entry[key] = float(values[index])
        rows.append(entry)
    return rows


def format_description(info: dict[str, Any]) -> str:
    """The text ``wx-datasets inspect`` prints."""
    lines = [f"{info['path']}: {'complete' if info['complete'] else 'INCOMPLETE'} wx dataset"]
    if info["description"]:
        lines.append(f"  description: {info['description']}")
    shape = info["shape"]
    lines.append(
        f"  shape: {shape['time']} dates x {shape['variable']} variables x "
        f"{shape['ensemble']} members x {shape['cell']} cells"
    )
    dates = info["dates"]
    lines.append(f"  dates: {dates['start']} to {dates['end']} every {dates['frequency']}")
    missing = dates["missing"]
    lines.append(f"  missing dates: {', '.join(missing) if missing else 'none'}")
    lines.append(f"  grid: {info['grid']}")
    chunking = info["chunking"]
    lines.append(
        f"  chunks: {chunking['chunk_shape']} shards: {chunking['shard_shape']} "
        f"compression: {chunking.get('compression')}"
    )
    if "size" in info:
        size = info["size"]
        lines.append(
            f"  size: {size['bytes'] / 1e6:.1f} MB in {size['files']} files "
            f"({size['uncompressed_bytes'] / 1e6:.1f} MB uncompressed)"
        )
    if "build" in info:
        lines.append(
            f"  build: {info['build']['blocks_done']} of {info['build']['blocks']} blocks done"
        )
    period = info["statistics_period"]
    lines.append(f"  statistics: {period['start']} to {period['end']}")
    for key in ("constant_value", "constant_in_time"):
        if period.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {', '.join(period[key])}")
    lines.append(_variable_table(info["variables"]))
    provenance = info["provenance"]
    lines.append(f"  created: {provenance.get('created')} on {provenance.get('hostname')}")
    lines.append(f"  software: {provenance.get('wx')}  git: {provenance.get('git')}")
    lines.append(f"  checksum: {info['checksum']}")
    return "\n".join(lines)


def _variable_table(rows: list[dict[str, Any]]) -> str:
    width = max([len("variable"), *(len(row["name"]) for row in rows)]) + 2
    units = max([len("units"), *(len(str(row.get("units") or "-")) for row in rows)]) + 2
    columns = ("mean", "stdev", "minimum", "maximum")
    lines = [
        f"  {'variable':<{width}}{'units':<{units}}{'kind':<12}"
        + "".join(f"{c:>12}" for c in columns)
    ]
    for row in rows:
        numbers = "".join(f"{row[key]:>12.5g}" if key in row else f"{'-':>12}" for key in columns)
        lines.append(
            f"  {row['name']:<{width}}{row.get('units') or '-'!s:<{units}}"
            f"{row.get('kind', '-'):<12}{numbers}"
        )
    return "\n".join(lines)
