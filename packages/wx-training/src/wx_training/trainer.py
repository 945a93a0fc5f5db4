"""The training loop in plain PyTorch: AdamW, warm-up + cosine, clipping, accumulation, rollout.

One optimizer step takes ``accumulate`` micro-batches of ``batch_size`` windows per process;
each window is rolled out for the curriculum's current number of steps and the weighted MSE is
averaged over them (GraphCast, Lam et al. 2023, eq. 19; AdamW: Loshchilov & Hutter 2019).
Every ``validation.every`` steps the model is scored (RMSE per variable and lead time, and
persistence) and an inference checkpoint is written; every ``checkpoint.every`` steps a
training checkpoint that resumes the run exactly.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from wx_models import save_checkpoint
from wx_training.checkpoints import (
    CheckpointFolder,
    TrainingCheckpoint,
    check_same_model,
    save_training_checkpoint,
)
from wx_training.components import Components, model_signature
from wx_training.config import to_container
from wx_training.data import WindowBatchSampler, WindowDataset, make_loader
from wx_training.distributed import DistributedContext, all_reduce_sum, barrier, gather_json
from wx_training.reporting import RunReporter, inference_metadata
from wx_training.rollout import Rollout
from wx_training.run_dir import RunDirectory
from wx_training.schedules import build_scheduler, rollout_at
from wx_training.seeding import capture_rng_state, loader_generator, restore_rng_state
from wx_training.sharding import ModelSharding
from wx_training.state_io import lists_to_tensors, tensors_to_lists
from wx_training.tracking import Tracker
from wx_training.validation import score_metrics, score_table, validate
from wx_utils.progress import progress

LOG = logging.getLogger(__name__)

Callback = Callable[["Trainer"], None]


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on GPU (``auto``) or when asked; fp32 otherwise."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class Trainer:
    """Owns the model, optimizer, schedule, loaders and the step counter of one run."""

    def __init__(
        self,
        *,
        config: Any,
        components: Components,
        context: DistributedContext,
        run: RunDirectory,
        tracker: Tracker | None,
        provenance: dict[str, Any],
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config = config
        self.training = config.training
        self.components = components
        self.context = context
        self.run = run
        self.reporter = RunReporter(config=config, run=run, tracker=tracker, context=context)
        self.provenance = provenance
        self.callbacks = list(callbacks)
        self.device = context.device
        # Shard before moving to the device, so only this rank's part of the graph gets there.
        self.sharding = ModelSharding.create(
            components.model, context, gpus_per_model=config.hardware.gpus_per_model
        )
        with self.sharding.whole_grid():
            self.signature = model_signature(components.model)
        self.model = components.model.to(self.device)
        self.rollout = Rollout.for_model(
            self.model,
            components.layout.sample_variables,
            self.sharding.local_cells(components.interior_mask),
        ).to(self.device)
        self.loss = self.sharding.loss(components.loss).to(self.device)
        optimizer = self.training.optimizer
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=optimizer.lr,
            betas=tuple(optimizer.betas),
            weight_decay=optimizer.weight_decay,
        )
        self.scheduler = build_scheduler(
            self.optimizer,
            warmup_steps=self.training.schedule.warmup_steps,
            total_steps=self.training.max_steps,
            lr=optimizer.lr,
            min_lr=self.training.schedule.min_lr,
        )
        self.network: torch.nn.Module = self.model
        if context.enabled and not self.sharding.enabled:
            # Buffers (graph, statistics) are built identically on every rank: no broadcast.
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(
                self.model, device_ids=device_ids, broadcast_buffers=False
            )
        # The ranks of a model group read the same windows: batches are dealt to groups.
        groups = self.sharding.groups
        self.generator = loader_generator(config.seed + 7919 * groups.group_index)
        self.sampler = WindowBatchSampler(
            len(components.train_dataset),
            batch_size=self.training.batch_size,
            rank=groups.group_index,
            world_size=groups.num_groups,
            seed=config.seed,
        )
        if len(self.sampler) == 0:
            raise ValueError(
                f"config key data.train: {len(components.train_dataset)} training windows, fewer "
                f"than one global batch ({self.sampler.global_batch} = training.batch_size x "
                "model groups)"
            )
        train_dataset = self.sharding.dataset(components.train_dataset)
        self.loader = self._loader(train_dataset, self.sampler, self.generator)
        self.validation_dataset = self.sharding.dataset(
            self._validation_subset(components.validation_dataset)
        )
        self.autocast = autocast_context(self.device, config.hardware.precision)
        self.training_folder = CheckpointFolder(
            run.checkpoints, prefix="training", keep_last=self.training.checkpoint.keep_last
        )
        self.inference_folder = CheckpointFolder(
            run.checkpoints, prefix="inference", keep_last=self.training.checkpoint.keep_last
        )
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.epoch_generator_state = self.generator.get_state()
        self.best_validation_loss = math.inf
        self.last_scores: dict[str, Any] | None = None
        self.last_checkpoint_step = -1

    @property
    def tracker(self) -> Tracker | None:
        return self.reporter.tracker

    @tracker.setter
    def tracker(self, tracker: Tracker | None) -> None:
        self.reporter.tracker = tracker

    # -- data -----------------------------------------------------------------------------------
    def _loader(
        self, dataset: WindowDataset, sampler: WindowBatchSampler, generator: torch.Generator
    ):
        data = self.config.data
        return make_loader(
            dataset,
            sampler,
            num_workers=data.num_workers,
            prefetch_factor=data.prefetch_factor,
            generator=generator,
            pin_memory=self.device.type == "cuda",
        )

    def _validation_subset(self, dataset: WindowDataset) -> WindowDataset:
        """At most ``max_batches x batch_size`` windows, evenly spread over the period."""
        validation = self.training.validation
        if validation.max_batches is None:
            return dataset
        count = min(len(dataset), validation.max_batches * validation.batch_size)
        picks = np.unique(np.linspace(0, len(dataset) - 1, count).round().astype(np.int64))
        return WindowDataset(
            view=dataset.view,
            layout=dataset.layout,
            member=dataset.member,
            window=dataset.window,
            starts=dataset.starts[picks],
        )

    def batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """Micro-batches for ever, epoch after epoch, from the current data position."""
        while True:
            self.sampler.set_epoch(self.epoch, start_batch=self.batch_in_epoch)
            self.generator.set_state(self.epoch_generator_state)
            for batch in self.loader:
                self.batch_in_epoch += 1
                yield batch
            self.epoch += 1
            self.batch_in_epoch = 0
            self.epoch_generator_state = self.generator.get_state()

    # -- resume ---------------------------------------------------------------------------------
    def restore(self, checkpoint: TrainingCheckpoint) -> None:
        """Continue exactly where ``checkpoint`` stopped (same model, else ResumeError)."""
        check_same_model(checkpoint.model_signature, self.signature, source=checkpoint.path)
        self.model.load_state_dict(checkpoint.model_state, strict=True)
        self.optimizer.load_state_dict(checkpoint.optimizer_state)
        schedule = dict(self.scheduler.lr_lambdas[0].__dict__)
        self.scheduler.load_state_dict(checkpoint.scheduler_state)
        if self.scheduler.lr_lambdas[0].__dict__ != schedule:
            LOG.warning(
                "the learning-rate schedule differs from the checkpoint's (%s); continuing with "
                "this config's (%s)",
                self.scheduler.lr_lambdas[0].__dict__,
                schedule,
            )
            self.scheduler.lr_lambdas[0].__dict__.update(schedule)
        self.step = checkpoint.step
        position = checkpoint.data_position
        self.epoch = int(position["epoch"])
        self.batch_in_epoch = int(position["batch_in_epoch"])
        if position.get("global_batch") != self.sampler.global_batch:
            seen = self.batch_in_epoch * int(
                position.get("global_batch", self.sampler.global_batch)
            )
            self.batch_in_epoch = seen // self.sampler.global_batch
            LOG.warning(
                "resuming with a global batch of %d instead of %d: the data order continues from "
                "the same sample, but the run will not be bit-identical to an uninterrupted one",
                self.sampler.global_batch,
                position.get("global_batch"),
            )
        states = checkpoint.rng_states
        if len(states) != self.context.world_size:
            LOG.warning(
                "checkpoint holds RNG states of %d ranks, this run has %d",
                len(states),
                self.context.world_size,
            )
        state = states[self.context.rank % len(states)]
        restore_rng_state(state, {"train_loader": self.generator})
        self.epoch_generator_state = state["generators"]["train_loader_epoch_start"]
        self.best_validation_loss = float(checkpoint.header.get("best_validation_loss", math.inf))
        self.last_checkpoint_step = self.step
        LOG.info(
            "resumed from %s at step %d (epoch %d, batch %d)",
            checkpoint.path,
            self.step,
            self.epoch,
            self.batch_in_epoch,
        )

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        training, context = self.training, self.context
        batches = self.batches()
        bar = progress(
            total=training.max_steps - self.step,
            description=self.config.name,
            unit="step",
            disable=None if context.is_main else True,
        )
        window_start, window_wait, window_steps = time.perf_counter(), 0.0, 0
        samples_per_step = self.sampler.global_batch * training.accumulate
        try:
            while self.step < training.max_steps:
                loss, grad_norm, wait = self.train_step(batches)
                window_wait += wait
                window_steps += 1
                bar.update(1)
                if self.step % training.log_every == 0 or self.step == training.max_steps:
                    elapsed = time.perf_counter() - window_start
                    figures = {
                        "train/loss": loss,
                        "train/lr": self.scheduler.get_last_lr()[0],
                        "train/grad_norm": grad_norm,
                        "train/samples_per_second": samples_per_step * window_steps / elapsed,
                        "train/data_wait_fraction": window_wait / elapsed,
                        "train/rollout": float(rollout_at(self.step - 1, training.rollout)),
                    }
                    self.reporter.log(figures, step=self.step, kind="train")
                    bar.set_postfix(
                        loss=f"{loss:.4g}",
                        samples_s=f"{figures['train/samples_per_second']:.3g}",
                        rollout=int(figures["train/rollout"]),
                    )
                    window_start, window_wait, window_steps = time.perf_counter(), 0.0, 0
                final = self.step == training.max_steps
                if self.step % training.validation.every == 0 or final:
                    self._validate()
                if self.step % training.checkpoint.every == 0 or final:
                    self._save_training_checkpoint()
                for callback in self.callbacks:
                    callback(self)
        finally:
            bar.close()
        final = self.inference_folder.path_for(self.step) if self.context.is_main else None
        return self.reporter.finish(step=self.step, inference=final, scores=self.last_scores)

    def train_step(self, batches: Iterator[dict[str, torch.Tensor]]) -> tuple[float, float, float]:
        training = self.training
        rollout = rollout_at(self.step, training.rollout)
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        wait = 0.0
        for micro in range(training.accumulate):
            started = time.perf_counter()
            batch = next(batches)
            wait += time.perf_counter() - started
            fields = batch["fields"].to(
                self.device, non_blocking=True
            )  # [batch, time, cell, variable]
            last = micro == training.accumulate - 1
            sync = (
                contextlib.nullcontext()
                if last or not self.context.enabled
                else self.network.no_sync()
            )
            with sync:
                with self.autocast:
                    losses = [
                        self.loss(prediction, target)
                        for _, prediction, target in self.rollout.run(self.network, fields, rollout)
                    ]
                    loss = torch.stack(losses).mean()
                (loss / training.accumulate).backward()
            total += loss.detach() / training.accumulate
        self.sharding.reduce_gradients(self.model.parameters())
        clip = training.gradient_clip if training.gradient_clip is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        # Sharded ranks hold parts of their group's loss: sum over the world, mean over groups.
        reduced = all_reduce_sum(total, self.context) / self.sharding.groups.num_groups
        return float(reduced.item()), float(grad_norm.item()), wait

    # -- validation, checkpoints, logging ---------------------------------------------------------
    def _validate(self) -> None:
        validation = self.training.validation
        sampler = WindowBatchSampler(
            len(self.validation_dataset),
            batch_size=validation.batch_size,
            rank=self.sharding.groups.group_index,
            world_size=self.sharding.groups.num_groups,
            shuffle=False,
            drop_last=False,
        )
        loader = self._loader(
            self.validation_dataset, sampler, loader_generator(self.config.seed + 1)
        )
        result = validate(
            self.model,
            loader,
            rollout=self.rollout,
            loss=self.loss,
            steps=validation.rollout,
            context=self.context,
            autocast=self.autocast,
            counts_samples=self.sharding.counts_samples,
        )
        metadata = self.components.view.variables_metadata
        scores = score_table(
            result,
            variables=self.model.output_variables,
            hours_per_step=self.model.frequency.total_seconds() / 3600.0,
            units={
                name: metadata.get(name, {}).get("units") or ""
                for name in self.model.output_variables
            },
        )
        self.last_scores = scores
        improved = scores["loss"] < self.best_validation_loss
        self.best_validation_loss = min(self.best_validation_loss, scores["loss"])
        self.reporter.log(score_metrics(scores), step=self.step, kind="validation", extra=scores)
        if self.context.is_main:
            path = self._save_inference_checkpoint(scores)
            if improved and self.training.checkpoint.keep_best:
                self.inference_folder.mark_best(path)
            if validation.plots:
                self.reporter.plot(scores, step=self.step)
        if improved and self.training.checkpoint.keep_best:
            best = self._save_training_checkpoint()
            if self.context.is_main:
                self.training_folder.mark_best(best)
        barrier(self.context)

    def _save_inference_checkpoint(self, scores: dict[str, Any]) -> Any:
        with self.sharding.whole_grid():
            path = save_checkpoint(
                self.inference_folder.path_for(self.step),
                self.model,
                metadata=inference_metadata(
                    self.config, self.components, step=self.step, run=self.run, scores=scores
                ),
            )
        self.inference_folder.prune()
        return path

    def _save_training_checkpoint(self):
        """Write a training checkpoint for this step (once); every rank must call this."""
        path = self.training_folder.path_for(self.step)
        if self.last_checkpoint_step == self.step:
            return path
        state = capture_rng_state({"train_loader": self.generator})
        state["generators"]["train_loader_epoch_start"] = self.epoch_generator_state
        states = [
            lists_to_tensors(item) for item in gather_json(tensors_to_lists(state), self.context)
        ]
        if self.context.is_main:
            save_training_checkpoint(
                path,
                model=self.model,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                rng_states=states,
                step=self.step,
                data_position={
                    "epoch": self.epoch,
                    "batch_in_epoch": self.batch_in_epoch,
                    "global_batch": self.sampler.global_batch,
                    "world_size": self.context.world_size,
                },
                model_signature=self.signature,
                provenance=self.provenance,
                extra={
                    "best_validation_loss": self.best_validation_loss,
                    "config": to_container(self.config),
                },
            )
            self.training_folder.prune()
        self.last_checkpoint_step = self.step
        barrier(self.context)
        return path
