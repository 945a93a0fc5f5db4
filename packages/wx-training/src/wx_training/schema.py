"""Typed schema of a training configuration (OmegaConf structured configs).

A composed Hydra config is merged onto :class:`TrainingRunConfig`; OmegaConf then rejects unknown
keys and values of the wrong type, naming the key's full path (``training.optimizer.lr``).
Ranges that types cannot express (positive learning rate, known family names, ...) are checked
by :func:`wx_training.config.check_values`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

DEFAULT_COMPUTED_FORCINGS = [
    "cos_julian_day",
    "sin_julian_day",
    "cos_local_time",
    "sin_local_time",
    "insolation",
]


@dataclass
class PeriodConfig:
    """An inclusive date range (ISO 8601); None means the dataset's first or last date."""

    start: str | None = None
    end: str | None = None


@dataclass
class DataConfig:
    """Which dataset, which variables in which role, and how dates split into train/validation."""

    dataset: str = MISSING  # path or URL of a wx dataset store
    name: str | None = None  # recorded in checkpoints; default: the store's file name
    select: list[str] | None = None
    drop: list[str] | None = None
    frequency: str | None = None  # thin the dataset to this time step (e.g. "6h")
    member: int = 0  # ensemble member used for training
    # Roles: None takes the variables whose dataset metadata has that kind.
    prognostic: list[str] | None = None
    forcing: list[str] | None = None  # forcing variables read from the dataset
    diagnostic: list[str] | None = None
    constant: list[str] | None = None
    computed_forcings: list[str] = field(default_factory=lambda: list(DEFAULT_COMPUTED_FORCINGS))
    train: PeriodConfig = field(default_factory=PeriodConfig)
    validation: PeriodConfig = field(default_factory=PeriodConfig)
    num_workers: int = 2
    prefetch_factor: int = 2


@dataclass
class GraphConfig:
    """An existing graph file, or a wx-graphs recipe built at the start of the run."""

    path: str | None = None
    recipe: dict[str, Any] | None = None


@dataclass
class NormaliserConfig:
    default: str = "mean-std"  # for dataset variables
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class TrainableFeaturesConfig:
    """Trainable features per node, learnt with the weights (0: none)."""

    data: int = 0  # per grid cell
    hidden: int = 0  # per mesh node


@dataclass
class ModelConfig:
    """Arguments of ``wx_models.WeatherModel`` besides what the dataset and graph provide."""

    family: str = "gnn"  # gnn | transformer
    latent_size: int = 256
    processor_layers: int = 8
    mlp_hidden_size: int | None = None  # None: latent_size
    heads: int = 8
    edge_chunks: int = 1
    activation_checkpointing: bool = False
    input_steps: int = 2
    # Free vectors per grid cell and mesh node beside their position features.
    trainable_features: TrainableFeaturesConfig = field(default_factory=TrainableFeaturesConfig)
    # A linear readout with each grid cell's own weights beside the shared output MLP.
    cell_readout: bool = False
    # Each grid cell's own linear regression on the prognostic inputs of its nearest
    # cell_stencil cells (itself included) and its own other inputs; 0: none.
    cell_stencil: int = 0
    # Start the stencil as each cell's ridge regression on the training windows (and the
    # shared output layer at zero), not at zero.
    cell_stencil_fit: bool = True
    # What that ridge fit shrinks a residual output's forecast towards: "mean" (each cell's
    # mean state: the next state is regressed) or "persistence" (the last state: the tendency
    # is regressed).
    cell_stencil_prior: str = "mean"
    # Train the stencil with the network (true), or keep it at that ridge fit (false: the
    # network alone learns the residual; needs cell_stencil_fit).
    cell_stencil_trainable: bool = True
    # The stencil also regresses on the climatology's harmonic basis at the valid time (the
    # annual, diurnal and seasonal-diurnal terms), which the shared network does not see: each
    # cell's own seasonal tendency, as a per-cell autoregression has. Needs a climatology.
    cell_stencil_basis: bool = False
    # Prognostic variables given their harmonic climatology (fitted on data.train) as input;
    # needs the computed forcings cos/sin_julian_day and cos/sin_local_time.
    climatology: list[str] = field(default_factory=list)
    # Annual harmonics of that climatology (>= 1): 2 (the seasonal cycle and its overtone);
    # 1 when the training data are a single year, whose overtone would fit its own weather.
    climatology_harmonics: int = 2
    # Forcings the network does not see; the climatology still reads them. Withholding
    # cos/sin_julian_day leaves the season to the climatology input alone, so a network trained
    # on one year cannot learn that year's weather as a function of the date.
    withheld_forcings: list[str] = field(default_factory=list)
    # Per-variable normaliser: mean-std | min-max | none; computed forcings default to none.
    normaliser: NormaliserConfig = field(default_factory=NormaliserConfig)
    # Prognostic variables predicted as a full state instead of a tendency (residual).
    full_state: list[str] = field(default_factory=list)
    # wx_models bounding rules, e.g. [{type: relu, variables: [tp]}].
    bounding: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OptimizerConfig:
    lr: float = 6.25e-4
    weight_decay: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])


@dataclass
class ScheduleConfig:
    """Linear warm-up from 0 to ``optimizer.lr``, then cosine decay to ``min_lr``."""

    warmup_steps: int = 1000
    min_lr: float = 3e-7


@dataclass
class RolloutConfig:
    """Autoregressive steps in the loss: ``start``, raised by ``increment`` every ``every`` steps."""

    start: int = 1
    maximum: int = 1
    every: int = 1000
    increment: int = 1


@dataclass
class PressureLevelConfig:
    """Loss weight of pressure-level variables: ``linear`` = max(minimum, level / 1000 hPa)."""

    scaling: str = "linear"  # linear | constant
    minimum: float = 0.2


@dataclass
class LossConfig:
    variable_weights: dict[str, float] = field(default_factory=dict)
    pressure_level: PressureLevelConfig = field(default_factory=PressureLevelConfig)
    area_weight: str = "auto"  # auto | dataset | graph | cosine | none


@dataclass
class ValidationConfig:
    every: int = 1000  # steps between validations
    rollout: int = 4  # lead times scored (in model time steps)
    batch_size: int = 4
    max_batches: int | None = None  # None: the whole validation period, else evenly spread
    plots: bool = True  # PNG plots (loss, RMSE by lead time) at each validation


@dataclass
class CheckpointConfig:
    every: int = 1000  # steps between training checkpoints (also written at the end)
    keep_last: int = 3
    keep_best: bool = True


@dataclass
class TrainingConfig:
    max_steps: int = 10000
    batch_size: int = 1  # samples per process per micro-batch
    accumulate: int = 1  # micro-batches per optimizer step
    gradient_clip: float | None = 32.0  # max gradient norm; None disables clipping
    log_every: int = 10
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


@dataclass
class HardwareConfig:
    accelerator: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 autocast on GPU, fp32 on CPU) | bf16 | fp32
    num_threads: int | None = None  # torch intra-op threads; None leaves torch's default
    deterministic: bool = False  # torch.use_deterministic_algorithms(True)
    gpus_per_model: int = 1  # >1: one model sharded over the grid of that many processes
    distributed_backend: str = "auto"  # auto (nccl on GPU, gloo on CPU) | nccl | gloo


@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str | None = None  # None: sqlite:///<run_dir>/mlflow.db
    experiment: str = "wx-training"
    run_name: str | None = None
    retry_seconds: float = 30.0  # wait after a failed upload before trying again
    log_checkpoints: bool = True
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ForkConfig:
    """Start from another run's weights: all of them (strict) or those that fit (partial)."""

    checkpoint: str | None = None  # an inference or training checkpoint
    strict: bool = True
    # New parameter name -> parameter name in the source checkpoint, for renamed layers.
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class TrainingRunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    name: str = "wx"
    run_dir: str | None = None  # None: runs/<name>-<UTC time>
    seed: int = 42
    resume: str | None = None  # a training checkpoint, or a run directory (its latest)
    fork: ForkConfig = field(default_factory=ForkConfig)
