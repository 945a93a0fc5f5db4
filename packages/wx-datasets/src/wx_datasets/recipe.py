"""Dataset recipes: a YAML file saying which dates, inputs and variables make a dataset.

A recipe is validated once, here, into a frozen :class:`Recipe`; every error names the key path
(``recipe.dates.frequency: expected ...``). Paths under ``input`` are expanded (``${VAR}`` from
the environment, ``${WX_SHARED_DATA}`` defaulting to the shared data folder) and made absolute
relative to the recipe file, so the normalised recipe stored in a dataset is self-contained.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from wx_datasets.errors import RecipeError
from wx_utils.dates import (
    DateError,
    date_range,
    frequency_to_string,
    parse_datetime,
    parse_frequency,
)
from wx_utils.testdata import shared_data_dir

KINDS = ("prognostic", "forcing", "diagnostic", "constant")
NAN_POLICIES = ("forbid", "allow")
COMPRESSIONS = ("blosc-lz4", "blosc-zstd", "zstd", "none")
LONGITUDE_RANGES = ("0..360", "-180..180")
_MISSING = object()
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Section:
    """A mapping in the recipe with its key path, for reading values with clear errors."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise RecipeError(f"{path}: expected a mapping, got {_describe(value)}")
        self.value = value
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def get(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.value:
            return self.value[name]
        if default is _MISSING:
            raise RecipeError(f"{self.key(name)}: required key is missing")
        return default

    def string(self, name: str, default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is not default and not isinstance(value, str):
            raise RecipeError(f"{self.key(name)}: expected a string, got {_describe(value)}")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is not default and value not in choices:
            raise RecipeError(
                f"{self.key(name)}: expected one of {', '.join(choices)}, got {value!r}"
            )
        return value

    def integer(self, name: str, default: Any = _MISSING, minimum: int = 0) -> Any:
        value = self.get(name, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise RecipeError(
                f"{self.key(name)}: expected an integer >= {minimum}, got {_describe(value)}"
            )
        return value

    def strings(self, name: str, default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is default:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RecipeError(f"{self.key(name)}: expected a list of names, got {_describe(value)}")
        if len(set(value)) != len(value):
            raise RecipeError(f"{self.key(name)}: names are repeated in {value}")
        return value

    def mapping(self, name: str, default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is not default and not isinstance(value, dict):
            raise RecipeError(f"{self.key(name)}: expected a mapping, got {_describe(value)}")
        return value

    def datetime(self, name: str, default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is default:
            return value
        try:
            return parse_datetime(value)
        except DateError as error:
            raise RecipeError(f"{self.key(name)}: {error}") from None

    def only(self, allowed: tuple[str, ...]) -> None:
        """Refuse keys outside ``allowed`` (catches typos such as ``frequncy``)."""
        unknown = sorted(set(self.value) - set(allowed))
        if unknown:
            raise RecipeError(
                f"{self.key(unknown[0])}: unknown key; expected one of {', '.join(allowed)}"
            )


@dataclass(frozen=True)
class DatesSpec:
    start: np.datetime64
    end: np.datetime64
    frequency: dt.timedelta
    missing: tuple[np.datetime64, ...]

    def all_dates(self) -> np.ndarray:
        """The dataset's time axis, missing dates included.  # [time] datetime64[s]"""
        return date_range(self.start, self.end, self.frequency)


@dataclass(frozen=True)
class OutputSpec:
    dates_per_shard: int
    compression: str
    compression_level: int
    longitudes: str


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    dates: DatesSpec
    input: dict[str, Any]
    variables: tuple[str, ...] | None
    drop: tuple[str, ...]
    rename: dict[str, str]
    kinds: dict[str, str]
    statistics_start: np.datetime64
    statistics_end: np.datetime64
    nans: dict[str, str]
    nan_default: str
    output: OutputSpec
    normalised: dict[str, Any] = field(repr=False)

    def nan_policy(self, variable: str) -> str:
        return self.nans.get(variable, self.nan_default)


def load_recipe(
    source: str | Path | dict[str, Any], *, base_dir: str | Path | None = None
) -> Recipe:
    """Read and validate a recipe from a YAML file or a dict (paths relative to ``base_dir``)."""
    if isinstance(source, dict):
        raw, folder = source, Path(base_dir) if base_dir else Path.cwd()
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: recipe file not found")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise RecipeError(f"{path}: not valid YAML ({error})") from None
        folder = Path(base_dir) if base_dir else path.resolve().parent
    return parse_recipe(raw, base_dir=folder)


def parse_recipe(raw: Any, *, base_dir: Path) -> Recipe:
    """Validate a recipe mapping; errors name the key path from ``recipe``."""
    root = Section(_plain(raw), "recipe")
    root.only(
        (
            "name",
            "description",
            "dates",
            "input",
            "variables",
            "drop",
            "rename",
            "kinds",
            "statistics",
            "nans",
            "output",
        )
    )
    dates = _parse_dates(Section(root.get("dates"), "recipe.dates"))
    source = Section(root.get("input"), "recipe.input")
    source.string("type")
    normalised_input = expand_paths(source.value, base_dir=base_dir, path="recipe.input")
    statistics = Section(root.mapping("statistics", {}), "recipe.statistics")
    statistics.only(("start", "end"))
    stat_start = statistics.datetime("start", dates.start)
    stat_end = statistics.datetime("end", dates.end)
    if not dates.start <= stat_start <= stat_end <= dates.end:
        raise RecipeError(
            f"recipe.statistics: period {stat_start} to {stat_end} must lie within the dates "
            f"{dates.start} to {dates.end}"
        )
    nans, nan_default = _parse_nans(Section(root.mapping("nans", {}), "recipe.nans"))
    normalised = dict(root.value)
    normalised["input"] = normalised_input
    return Recipe(
        name=root.string("name", ""),
        description=root.string("description", ""),
        dates=dates,
        input=normalised_input,
        variables=_optional_tuple(root.strings("variables", None)),
        drop=tuple(root.strings("drop", [])),
        rename=_parse_rename(Section(root.mapping("rename", {}), "recipe.rename")),
        kinds=_parse_kinds(Section(root.mapping("kinds", {}), "recipe.kinds")),
        statistics_start=stat_start,
        statistics_end=stat_end,
        nans=nans,
        nan_default=nan_default,
        output=_parse_output(Section(root.mapping("output", {}), "recipe.output")),
        normalised=normalised,
    )


def _parse_dates(section: Section) -> DatesSpec:
    section.only(("start", "end", "frequency", "missing"))
    start, end = section.datetime("start"), section.datetime("end")
    try:
        frequency = parse_frequency(section.get("frequency"))
    except DateError as error:
        raise RecipeError(f"{section.key('frequency')}: {error}") from None
    try:
        axis = date_range(start, end, frequency)
    except DateError as error:
        raise RecipeError(f"{section.path}: {error}") from None
    missing_raw = section.get("missing", [])
    if not isinstance(missing_raw, list):
        raise RecipeError(f"{section.key('missing')}: expected a list of dates")
    missing = []
    for index, value in enumerate(missing_raw):
        try:
            date = parse_datetime(value)
        except DateError as error:
            raise RecipeError(f"{section.key('missing')}[{index}]: {error}") from None
        if date not in axis:
            raise RecipeError(
                f"{section.key('missing')}[{index}]: {date} is not one of the dataset dates "
                f"({start} to {end} every {frequency_to_string(frequency)})"
            )
        missing.append(date)
    if len(set(missing)) != len(missing):
        raise RecipeError(f"{section.key('missing')}: dates are repeated")
    return DatesSpec(start=start, end=end, frequency=frequency, missing=tuple(sorted(missing)))


def _parse_rename(section: Section) -> dict[str, str]:
    for old, new in section.value.items():
        if not isinstance(new, str) or not new:
            raise RecipeError(f"{section.key(old)}: expected a new variable name, got {new!r}")
    targets = list(section.value.values())
    if len(set(targets)) != len(targets):
        raise RecipeError(f"{section.path}: two variables are renamed to the same name")
    return dict(section.value)


def _parse_kinds(section: Section) -> dict[str, str]:
    for name in section.value:
        section.choice(name, KINDS)
    return dict(section.value)


def _parse_nans(section: Section) -> tuple[dict[str, str], str]:
    default = section.choice("default", NAN_POLICIES, "forbid")
    policies = {}
    for name in section.value:
        if name != "default":
            policies[name] = section.choice(name, NAN_POLICIES)
    return policies, default


def _parse_output(section: Section) -> OutputSpec:
    section.only(("dates_per_shard", "compression", "compression_level", "longitudes"))
    compression = section.choice("compression", COMPRESSIONS, "blosc-lz4")
    level = section.integer("compression_level", 5 if compression.startswith("blosc") else 3)
    if compression != "none" and not 0 <= level <= 9:
        raise RecipeError(f"{section.key('compression_level')}: expected 0..9, got {level}")
    return OutputSpec(
        dates_per_shard=section.integer("dates_per_shard", 1, minimum=1),
        compression=compression,
        compression_level=level,
        longitudes=section.choice("longitudes", LONGITUDE_RANGES, "0..360"),
    )


def expand_paths(value: Any, *, base_dir: Path, path: str) -> Any:
    """Copy of a source spec with every ``path`` value expanded and made absolute."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            if key == "path":
                result[key] = _expand_path_value(item, base_dir=base_dir, path=where)
            else:
                result[key] = expand_paths(item, base_dir=base_dir, path=where)
        return result
    if isinstance(value, list):
        return [
            expand_paths(v, base_dir=base_dir, path=f"{path}[{i}]") for i, v in enumerate(value)
        ]
    return value


def _expand_path_value(value: Any, *, base_dir: Path, path: str) -> Any:
    if isinstance(value, list):
        return [
            _expand_path_value(v, base_dir=base_dir, path=f"{path}[{i}]")
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or not value:
        raise RecipeError(f"{path}: expected a file path or glob, got {_describe(value)}")
    text = _VARIABLE.sub(lambda match: _environment(match.group(1), path, base_dir), value)
    if "://" in text:
        return text
    expanded = Path(text).expanduser()
    return str(expanded if expanded.is_absolute() else (base_dir / expanded).resolve())


def _environment(name: str, path: str, base_dir: Path) -> str:
    if name in os.environ:
        return os.environ[name]
    if name == "WX_SHARED_DATA":
        # the shared/data folder beside the checkout holding the recipe, or the current one
        for parent in (base_dir.resolve(), *base_dir.resolve().parents):
            if (parent.parent / "shared" / "data").is_dir():
                return str(parent.parent / "shared" / "data")
        folder = shared_data_dir()
        if folder is not None:
            return str(folder)
    raise RecipeError(f"{path}: environment variable ${{{name}}} is not set")


def _optional_tuple(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _plain(value: Any) -> Any:
    """YAML dates and datetimes as ISO strings, so the recipe is plain JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "nothing"
