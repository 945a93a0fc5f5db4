"""``open_dataset``: a store (or a join or concat of stores) with selections applied.

Selections are applied in this order: dates (``start``/``end``, then ``frequency``), missing
dates, variables (``select``/``drop``, then ``rename``), cells (``area``, then ``thinning``).
``start``/``end`` take ISO dates or a year (``end=2013`` means the end of 2013).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from wx_datasets.errors import MissingDatesError
from wx_datasets.grids import wrap_longitudes
from wx_datasets.view import DatasetView, StoreView, Subset
from wx_datasets.view_combine import ConcatView, JoinView
from wx_utils.dates import parse_datetime, parse_frequency, to_iso

OPTIONS = ("select", "drop", "rename", "start", "end", "frequency", "area", "thinning", "missing")


def open_dataset(
    path_or_url: str | Path | DatasetView | dict,
    *,
    select: list[str] | str | None = None,
    drop: list[str] | str | None = None,
    rename: dict[str, str] | None = None,
    start: Any = None,
    end: Any = None,
    frequency: str | dt.timedelta | None = None,
    area: tuple[float, float, float, float] | None = None,
    thinning: int | None = None,
    missing: str = "fail",
) -> DatasetView:
    """Open a dataset store lazily, or combine several.

    ``path_or_url`` is a store path or URL, a view, ``{"join": [...]}`` or ``{"concat": [...]}``
    whose items are any of these or ``{"dataset": ..., <options>}``. ``area`` is
    ``(north, west, south, east)`` in degrees. ``missing="fail"`` raises
    :class:`MissingDatesError` listing the missing dates in the selected period;
    ``missing="skip"`` leaves them out.
    """
    view = _open_any(path_or_url)
    view = _select_dates(view, start=start, end=end, frequency=frequency)
    view = _handle_missing(view, missing)
    view = _select_variables(view, select=select, drop=drop, rename=rename)
    if area is not None:
        view = crop_area(view, area)
    if thinning is not None:
        view = thin(view, thinning)
    return view


def _open_any(spec) -> DatasetView:
    if isinstance(spec, DatasetView):
        return spec
    if isinstance(spec, str | Path):
        return StoreView(spec)
    if isinstance(spec, dict):
        if "join" in spec or "concat" in spec:
            kind = "join" if "join" in spec else "concat"
            items = spec[kind]
            if not isinstance(items, list | tuple):
                raise ValueError(f"{kind}: expected a list of datasets")
            views = [_open_item(item) for item in items]
            combined = JoinView(views) if kind == "join" else ConcatView(views)
            options = {k: v for k, v in spec.items() if k != kind}
            return open_dataset(combined, **_check_options(options)) if options else combined
        return _open_item(spec)
    raise TypeError(f"cannot open a dataset from {spec!r}")


def _open_item(item) -> DatasetView:
    if isinstance(item, dict) and "dataset" in item:
        options = {k: v for k, v in item.items() if k != "dataset"}
        return open_dataset(item["dataset"], **_check_options(options))
    if isinstance(item, dict) and not ("join" in item or "concat" in item):
        raise ValueError(f"expected 'dataset', 'join' or 'concat' in {item!r}")
    return _open_any(item)


def _check_options(options: dict) -> dict:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown dataset option {unknown[0]!r}; expected one of {', '.join(OPTIONS)}"
        )
    return options


def _bound(value, *, end: bool) -> np.datetime64:
    if isinstance(value, int) and not isinstance(value, bool):
        text = f"{value}-12-31T23:59:59" if end else f"{value}-01-01T00:00:00"
        return parse_datetime(text)
    return parse_datetime(value)


def _select_dates(view: DatasetView, *, start, end, frequency) -> DatasetView:
    index = np.arange(len(view))
    if start is not None:
        index = index[view.dates[index] >= _bound(start, end=False)]
    if end is not None:
        index = index[view.dates[index] <= _bound(end, end=True)]
    if index.size == 0 and len(view):
        raise ValueError(
            f"no dates between start={start} and end={end}; the dataset covers "
            f"{to_iso(view.dates[0])} to {to_iso(view.dates[-1])}"
        )
    new_frequency = None
    if frequency is not None:
        new_frequency = parse_frequency(frequency)
        ratio = new_frequency / view.frequency
        if ratio < 1 or ratio != int(ratio):
            raise ValueError(
                f"frequency {frequency}: expected a multiple of the dataset frequency "
                f"{view.frequency}"
            )
        step = int(new_frequency.total_seconds())
        offsets = (
            (view.dates[index] - view.dates[index[0]]).astype("timedelta64[s]").astype(np.int64)
        )
        index = index[offsets % step == 0]
    if index.size == len(view) and new_frequency is None:
        return view
    return Subset(view, time_index=index, frequency=new_frequency)


def _handle_missing(view: DatasetView, missing: str) -> DatasetView:
    if missing not in ("fail", "skip"):
        raise ValueError(f"missing={missing!r}: expected 'fail' or 'skip'")
    if not view.missing.any():
        return view
    if missing == "fail":
        dates = view.dates[view.missing]
        shown = ", ".join(to_iso(d) for d in dates[:10])
        more = f" and {dates.size - 10} more" if dates.size > 10 else ""
        raise MissingDatesError(
            f"the dataset has no data for {dates.size} date(s) in the selected period: "
            f"{shown}{more}; open it with missing='skip' to leave them out, or choose start/end"
        )
    return Subset(view, time_index=np.flatnonzero(~view.missing))


def _names(value, option: str) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"{option}: expected variable names, got {value!r}")
    return names


def _select_variables(view: DatasetView, *, select, drop, rename) -> DatasetView:
    select, drop = _names(select, "select"), _names(drop, "drop")
    rename = dict(rename or {})
    if select is None and drop is None and not rename:
        return view
    available = view.name_to_index
    for option, names in (("select", select), ("drop", drop), ("rename", list(rename))):
        for name in names or ():
            if name not in available:
                raise KeyError(
                    f"{option}: no variable {name!r} in the dataset; variables: "
                    f"{', '.join(view.variables)}"
                )
    chosen = select if select is not None else list(view.variables)
    chosen = [name for name in chosen if name not in (drop or ())]
    if not chosen:
        raise ValueError("select/drop: no variable left")
    new_names = [rename.get(name, name) for name in chosen]
    if len(set(new_names)) != len(new_names):
        raise ValueError(f"rename: two variables would both be called {new_names}")
    index = np.array([available[name] for name in chosen], dtype=np.int64)
    return Subset(view, variable_index=index, names=new_names)


def crop_area(view: DatasetView, area) -> DatasetView:
    """Cells inside ``(north, west, south, east)``; longitudes may wrap through 0 or 180."""
    try:
        north, west, south, east = (float(v) for v in area)
    except (TypeError, ValueError):
        raise ValueError(f"area {area!r}: expected (north, west, south, east) in degrees") from None
    if north < south:
        raise ValueError(f"area {area!r}: north {north} is south of south {south}")
    span = (east - west) % 360 or (360.0 if east != west else 0.0)
    offset = (wrap_longitudes(view.longitudes, "0..360") - west) % 360
    inside_lon = offset <= span + 1e-9
    inside = (view.latitudes <= north) & (view.latitudes >= south) & inside_lon
    cells = np.flatnonzero(inside)
    if cells.size == 0:
        raise ValueError(f"area {area!r}: no grid cell inside")
    shape = None
    if view.grid_shape is not None and len(view.grid_shape) == 2:
        grid = inside.reshape(view.grid_shape)
        rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
        shape = (rows.size, cols.size)
        cells = np.arange(len(view.latitudes)).reshape(view.grid_shape)[np.ix_(rows, cols)].ravel()
    return Subset(view, cell_index=cells, grid_shape=shape)


def thin(view: DatasetView, every: int) -> DatasetView:
    """Every ``every``-th row and column of a rectilinear grid (every ``every``-th cell otherwise)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"thinning {every!r}: expected a positive integer")
    if every == 1:
        return view
    if view.grid_shape is not None and len(view.grid_shape) == 2:
        grid = np.arange(len(view.latitudes)).reshape(view.grid_shape)[::every, ::every]
        return Subset(view, cell_index=grid.ravel(), grid_shape=grid.shape)
    return Subset(view, cell_index=np.arange(0, len(view.latitudes), every), grid_shape=None)
