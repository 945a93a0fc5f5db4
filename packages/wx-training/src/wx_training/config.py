"""Compose, validate and export training configurations.

The defaults ship inside the package (``wx_training/conf``) and are found from the package path,
so they work after ``pip install``. A user's own config directory (e.g. one made by
``wx-training config export``) is searched first, with the packaged configs behind it. Every
composed config is merged onto the dataclass schema (:mod:`wx_training.schema`) and its value
ranges are checked before anything is built, so mistakes fail with the key's path.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_type_hints

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from wx_datasets.forcings import FORCING_NAMES
from wx_training.schema import TrainingRunConfig

CONF_DIR = Path(__file__).resolve().parent / "conf"
PACKAGED_SEARCH_PATH = f"file://{CONF_DIR}"
GROUPS = get_type_hints(TrainingRunConfig)  # group name -> its schema dataclass
GROUP_NAMES = ("data", "graph", "model", "training", "hardware", "tracking")


class ConfigError(ValueError):
    """A configuration with an unknown key, a value of the wrong type or out of range."""


def compose_config(
    overrides: Sequence[str] = (),
    *,
    config_name: str = "config",
    config_dir: str | Path | None = None,
) -> DictConfig:
    """Compose ``config_name`` with command-line ``overrides`` and validate it."""
    folder = Path(config_dir).resolve() if config_dir is not None else CONF_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"config directory {folder}: no such directory")
    extra = [f"hydra.searchpath=[{PACKAGED_SEARCH_PATH}]"] if folder != CONF_DIR else []
    try:
        with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
            composed = compose(config_name=config_name, overrides=[*extra, *overrides])
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"config {config_name!r} in {folder}: {_hydra_message(error)}") from None
    composed = OmegaConf.masked_copy(composed, [key for key in composed if key != "hydra"])
    unset = _required_but_not_given(folder, config_name, overrides)
    if composed.get("resume") is not None:  # a resumed run has its (forked) weights already
        unset = [key for key in unset if not key.startswith("fork.")]
    if unset:
        raise ConfigError(
            f"config {config_name!r}: config key(s) {', '.join(unset)}: required but not set"
        )
    return validate_config(composed, source=f"config {config_name!r}")


def _required_but_not_given(folder: Path, config_name: str, overrides: Sequence[str]) -> list[str]:
    """Keys marked ``???`` in the named config file that no override sets.

    Composition cannot tell: a ``???`` merged onto an earlier default keeps the default.
    """
    path = next(
        (
            d / f"{config_name}.yaml"
            for d in (folder, CONF_DIR)
            if (d / f"{config_name}.yaml").is_file()
        ),
        None,
    )
    if path is None:
        return []
    given = [override.split("=")[0].lstrip("+~") for override in overrides]
    return sorted(
        key
        for key in OmegaConf.missing_keys(OmegaConf.load(path))
        if not any(key == name or key.startswith(f"{name}.") for name in given)
    )


def validate_config(config: Any, *, source: str = "config") -> DictConfig:
    """``config`` merged onto the schema, resolved and range-checked; ConfigError otherwise."""
    merged = _merge_onto(OmegaConf.structured(TrainingRunConfig), config, source=source)
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ConfigError(f"{source}: config key(s) {', '.join(missing)}: required but not set")
    try:
        OmegaConf.resolve(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{source}: {_describe(error)}") from None
    problems = check_values(merged)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return merged


def load_config_file(path: str | Path) -> tuple[DictConfig, str]:
    """Validate one file: a primary config (with ``defaults``), a resolved run config or a
    group option (``data/ncep_air.yaml`` is checked against the ``data`` schema).

    Returns the validated config and what it was checked as.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        raw = OmegaConf.load(path)
    except Exception as error:  # YAML syntax errors come from several libraries
        raise ConfigError(f"{path}: not a valid YAML file ({_first_line(error)})") from None
    if not isinstance(raw, DictConfig):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    group = path.parent.name
    if "defaults" in raw:
        return compose_config(config_name=path.stem, config_dir=path.parent), "a primary config"
    if group in GROUP_NAMES:
        schema = OmegaConf.structured(GROUPS[group])
        checked = _merge_onto(schema, raw, source=str(path), prefix=f"{group}.")
        return checked, f"an option of the {group!r} group"
    return validate_config(raw, source=str(path)), "a complete config"


def export_config(destination: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the packaged configs to ``destination`` for editing; returns the files written."""
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()) and not force:
        raise FileExistsError(f"{destination}: not empty; choose another directory or use --force")
    written = []
    for source in sorted(CONF_DIR.rglob("*.yaml")):
        target = destination / source.relative_to(CONF_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written


def packaged_config_names() -> list[str]:
    """Primary configs shipped with the package (``--config-name`` values)."""
    return sorted(path.stem for path in CONF_DIR.glob("*.yaml"))


def packaged_group_options() -> dict[str, list[str]]:
    """Options of each config group shipped with the package."""
    return {
        group: sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))
        for group in GROUP_NAMES
    }


def to_container(config: DictConfig) -> dict[str, Any]:
    """The resolved config as plain JSON-serialisable Python values."""
    return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]


def _merge_onto(schema: DictConfig, config: Any, *, source: str, prefix: str = "") -> DictConfig:
    try:
        return OmegaConf.merge(schema, config)  # type: ignore[return-value]
    except OmegaConfBaseException as error:
        raise ConfigError(f"{source}: {_describe(error, prefix)}") from None


def _describe(error: OmegaConfBaseException, prefix: str = "") -> str:
    key = getattr(error, "full_key", None)
    message = _first_line(error)
    if "not in" in message and key:
        return f"config key {prefix}{key}: unknown key ({message})"
    return f"config key {prefix}{key}: {message}" if key else message


def _hydra_message(error: BaseException) -> str:
    """Hydra's multi-line message on one line, without the search-path listing."""
    text = str(error).split("Config search path")[0]
    unknown = re.match(r"Could not override '([^']+)'", text)
    if unknown:
        return f"config key {_first_unknown(unknown.group(1))}: unknown key (not in the schema)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines).replace("Available options in", "; options in") or type(error).__name__


def _first_unknown(path: str) -> str:
    """The leading part of a dotted key path that the schema lacks (``training.optimiser``)."""
    node: Any = OmegaConf.structured(TrainingRunConfig)
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, DictConfig) or part not in node:
            return ".".join(parts[: depth + 1])
        node = node[part] if not OmegaConf.is_missing(node, part) else None
    return path


def _first_line(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


CHOICES = {
    "model.family": ("gnn", "transformer"),
    "model.cell_stencil_prior": ("mean", "persistence"),  # wx_models STENCIL_PRIORS
    "hardware.accelerator": ("auto", "cpu", "cuda"),
    "hardware.precision": ("auto", "bf16", "fp32"),
    "hardware.distributed_backend": ("auto", "nccl", "gloo"),
    "training.loss.area_weight": ("auto", "dataset", "graph", "cosine", "none"),
    "training.loss.pressure_level.scaling": ("linear", "constant"),
    "model.normaliser.default": ("mean-std", "min-max", "none"),
}
POSITIVE = (
    "hardware.gpus_per_model",
    "training.optimizer.lr",
    "training.batch_size",
    "training.accumulate",
    "training.max_steps",
    "training.log_every",
    "training.validation.every",
    "training.validation.rollout",
    "training.validation.batch_size",
    "training.checkpoint.every",
    "training.checkpoint.keep_last",
    "training.rollout.start",
    "training.rollout.maximum",
    "training.rollout.every",
    "training.rollout.increment",
    "model.latent_size",
    "model.processor_layers",
    "model.heads",
    "model.edge_chunks",
    "model.input_steps",
    "data.prefetch_factor",
    "tracking.retry_seconds",
)
NON_NEGATIVE = (
    "training.optimizer.weight_decay",
    "training.schedule.warmup_steps",
    "training.schedule.min_lr",
    "training.loss.pressure_level.minimum",
    "data.num_workers",
    "data.member",
    "model.trainable_features.data",
    "model.trainable_features.hidden",
)
POSITIVE_OR_NONE = (
    "training.gradient_clip",
    "training.validation.max_batches",
    "hardware.num_threads",
    "model.mlp_hidden_size",
)


def check_values(config: DictConfig) -> list[str]:
    """Problems with value ranges, each naming the key; empty when the config is fine."""
    problems = []
    for key in POSITIVE:
        value = OmegaConf.select(config, key)
        if not value > 0:
            problems.append(f"config key {key}: must be positive, got {value}")
    for key in NON_NEGATIVE:
        value = OmegaConf.select(config, key)
        if value < 0:
            problems.append(f"config key {key}: must not be negative, got {value}")
    for key in POSITIVE_OR_NONE:
        value = OmegaConf.select(config, key)
        if value is not None and not value > 0:
            problems.append(f"config key {key}: must be positive or null, got {value}")
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(config, key)
        if value not in allowed:
            problems.append(f"config key {key}: {value!r} is not one of {', '.join(allowed)}")
    problems.extend(_check_relations(config))
    return problems


def _check_relations(config: DictConfig) -> list[str]:
    problems = []
    training = config.training
    if training.rollout.maximum < training.rollout.start:
        problems.append(
            f"config key training.rollout.maximum: {training.rollout.maximum} is below "
            f"training.rollout.start ({training.rollout.start})"
        )
    if training.optimizer.lr > 0 and training.schedule.min_lr > training.optimizer.lr:
        problems.append(
            f"config key training.schedule.min_lr: {training.schedule.min_lr} is above "
            f"training.optimizer.lr ({training.optimizer.lr})"
        )
    betas = list(training.optimizer.betas)
    if len(betas) != 2 or not all(0.0 <= beta < 1.0 for beta in betas):
        problems.append(
            f"config key training.optimizer.betas: expected two values in [0, 1), got {betas}"
        )
    for name, weight in training.loss.variable_weights.items():
        if weight < 0:
            problems.append(
                f"config key training.loss.variable_weights.{name}: negative weight {weight}"
            )
    kinds = CHOICES["model.normaliser.default"]
    for name, kind in config.model.normaliser.variables.items():
        if kind not in kinds:
            problems.append(
                f"config key model.normaliser.variables.{name}: {kind!r} is not one of {', '.join(kinds)}"
            )
    unknown = [name for name in config.data.computed_forcings if name not in FORCING_NAMES]
    if unknown:
        problems.append(
            f"config key data.computed_forcings: unknown forcing(s) {unknown}; expected names "
            f"among {', '.join(FORCING_NAMES)}"
        )
    if not config.model.cell_stencil_trainable and not config.model.cell_stencil_fit:
        problems.append(
            "config key model.cell_stencil_trainable: false needs model.cell_stencil_fit: true "
            "(a stencil neither fitted nor trained stays at zero)"
        )
    if (config.graph.path is None) == (config.graph.recipe is None):
        problems.append(
            "config key graph: set exactly one of graph.path (a graph file) and graph.recipe"
        )
    return problems
