"""The thin entry point: config -> components -> train -> close.

Runs the same on a laptop (one process) and under ``torchrun`` or ``srun`` (one process per
GPU): :mod:`wx_training.distributed` reads the process group from the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from wx_training.checkpoints import (
    load_training_checkpoint,
    read_training_header,
    resolve_resume_path,
)
from wx_training.components import build_components
from wx_training.config import to_container
from wx_training.distributed import (
    DistributedContext,
    broadcast_json,
    setup_distributed,
    teardown_distributed,
)
from wx_training.fork import fork_weights
from wx_training.run_dir import RunDirectory, attach_log_file, choose_run_dir, prepare_run_dir
from wx_training.seeding import seed_everything, set_deterministic
from wx_training.tracking import Tracker, flatten
from wx_training.trainer import Callback, Trainer
from wx_utils.provenance import provenance

LOG = logging.getLogger(__name__)


def train(config: Any, *, callbacks: Sequence[Callback] = ()) -> dict[str, Any]:
    """Train as ``config`` says; returns a summary (run directory, steps, scores, checkpoint)."""
    hardware = config.hardware
    context = setup_distributed(
        accelerator=hardware.accelerator, backend=hardware.distributed_backend
    )
    tracker, handler, status = None, None, "FAILED"
    try:
        if hardware.num_threads is not None:
            torch.set_num_threads(hardware.num_threads)
        set_deterministic(hardware.deterministic)
        resume = _resume_path(config)
        seed_everything(config.seed)
        record = provenance(to_container(config))
        run = RunDirectory(_run_root(config, context, resume))
        # Everything is built and checked before the run directory is written to.
        components = build_components(config)
        if config.fork.checkpoint is not None:
            fork_weights(
                components.model,
                config.fork.checkpoint,
                strict=config.fork.strict,
                mapping=dict(config.fork.mapping),
            )
        trainer = Trainer(
            config=config,
            components=components,
            context=context,
            run=run,
            tracker=None,
            provenance=record,
            callbacks=callbacks,
        )
        if resume is not None:
            trainer.restore(load_training_checkpoint(resume))
        if context.is_main:
            prepare_run_dir(
                run.root,
                config=to_container(config),
                provenance=record,
                resuming=resume is not None,
            )
            handler = attach_log_file(run)
            tracker = trainer.tracker = _tracker(config, run, record)
        summary = trainer.fit()
        status = "FINISHED"
        return summary
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if tracker is not None:
            tracker.close(status=status)
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        teardown_distributed(context)


def _resume_path(config: Any) -> Path | None:
    if config.resume is None:
        return None
    if config.fork.checkpoint is not None:
        raise ValueError("config keys resume and fork.checkpoint: set one of them, not both")
    path = resolve_resume_path(config.resume)
    read_training_header(path)  # a wrong kind of file fails before anything is built
    return path


def _run_root(config: Any, context: DistributedContext, resume: Path | None) -> Path:
    """The run directory, chosen on rank 0 (it may hold a time stamp) and shared."""
    root, problem = None, None
    if context.is_main:
        root = choose_run_dir(config.run_dir, name=config.name, resume=resume)
        if resume is None and (root / "config.yaml").exists():
            problem = f"run_dir={root}: already holds a run; choose another run_dir, or continue it with resume={root}"
    root, problem = broadcast_json([None if root is None else str(root), problem], context)
    if problem is not None:
        raise FileExistsError(problem)
    return Path(root)


def _tracker(config: Any, run: RunDirectory, record: dict) -> Tracker | None:
    tracking = config.tracking
    if not tracking.enabled:
        return None
    tags = {
        "wx.git_commit": str((record.get("git") or {}).get("commit")),
        "wx.git_dirty": str((record.get("git") or {}).get("dirty")),
        "wx.versions": ", ".join(f"{name} {version}" for name, version in record["wx"].items()),
        "wx.torch": record["dependencies"].get("torch", ""),
        "wx.python": record["python"],
        "wx.host": record.get("hostname", ""),
        "wx.command": " ".join(record["command"])[:5000],
        "wx.run_dir": str(run.root.resolve()),
        **dict(tracking.tags),
    }
    return Tracker(
        run_dir=run.root,
        uri=tracking.uri,
        experiment=tracking.experiment,
        run_name=tracking.run_name or run.root.name,
        params=flatten(to_container(config)),
        tags=tags,
        retry_seconds=tracking.retry_seconds,
    )
