"""The training loop shared by the notebooks and ``python -m hjepa_lite train``.

One optimizer step::

    lr, weight decay, EMA momentum  <- schedules at this step
    masks   <- multi-block sampler (context block minus 4 target blocks)
    outputs <- model(images, mask, target_mask)            (DDP-wrapped under torchrun)
    loss    <- objective: sum_l w_l * loss_l on the valid target cells of each level,
               + the regularizer (+ the loss on visible cells)
    AdamW step (no weight decay on biases and norms), gradient clipping
    EMA     <- target = m * target + (1 - m) * online      once, after the optimizer step

Reproducibility: every step re-seeds its randomness (masks, drop-path) from
``(seed, rank, step)``, and :mod:`hjepa_lite.data.loader` makes data order and crops a function
of ``(seed, epoch, index)``. So the step number is the whole random state: a run resumed
from a checkpoint repeats the uninterrupted run's losses exactly (on CPU).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ..config import Config
from ..core.masks import MultiBlockMaskSampler
from ..data.loader import train_loader
from ..model.factory import build_model
from ..model.hjepa import HJEPA
from .checkpoint import FORMAT, atomic_save, atomic_write_json, check_writable_folder
from .distributed import (
    all_reduce_nanmean,
    any_rank,
    check_replicas,
    choose_device,
    init_distributed,
    is_main,
    world,
)
from .objective import objective
from .optimizer import param_groups, set_schedules
from .rank_monitor import RankMonitor, batch_std
from .run_checkpoint import CHECKPOINT, load_weights, read_run, resume_conflicts

__all__ = ["Trainer"]


def _step_seed(seed: int, rank: int, step: int) -> int:
    return ((seed * 1_000_003 + rank) * 100_000_007 + step) % 2**62


class Trainer:
    """Pre-train an H-JEPA from a config.

    Args:
        config: a :class:`Config`, a config dict, or a YAML path.
        out_dir: where ``last.pt`` (atomic checkpoints) and ``history.json`` go; None = keep
            nothing on disk. An existing checkpoint there is resumed unless ``resume=False``.
        device: "cpu", "cuda", "mps"; None = the best available.
        progress: show a tqdm progress bar.
        dataset: use this training data set instead of building ``config.data.dataset``.

    After :meth:`fit`, ``history`` holds per-step lists: ``loss``, ``loss_<l>`` per level (NaN
    at a step whose batch had no valid target cell at that level),
    ``lr``, ``weight_decay``, ``momentum``, ``std_<l>`` (per-level std of the target
    features across the batch: a collapse monitor, 0 = collapsed; 0 at batch size 1, see
    :func:`~hjepa_lite.train.rank_monitor.batch_std`), ``images_per_s`` and
    ``regularizer`` (the anti-collapse term before its weight); and every ``rank_every``
    steps (and at the last) ``rank_step``, ``rank_<l>`` and ``rank_encoder``: RankMe of the
    batch's target tokens per level and of the EMA encoder's tokens
    (:class:`~hjepa_lite.train.rank_monitor.RankMonitor`, which warns when a level's rank falls
    below half its first value).

    A config is checked before anything is built (a :class:`Config` edited in code too,
    e.g. ``train.steps = 0``). A resume refuses a checkpoint whose config or number of
    processes differs, except in
    :data:`~hjepa_lite.train.run_checkpoint.RESUMABLE_CHANGES`.
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | os.PathLike,
        out_dir: str | os.PathLike | None = None,
        device: str | None = None,
        progress: bool = True,
        dataset: torch.utils.data.Dataset | None = None,
        resume: bool = True,
        rank_every: int = 25,
    ) -> None:
        config = Config.coerce(config)
        self.config = config
        # a file or a read-only folder fails here, not at the first checkpoint
        self.out_dir = None if out_dir is None else check_writable_folder(out_dir, "out_dir")
        self.progress = progress
        self.device = choose_device(device)
        init_distributed(self.device)
        self.rank, self.world_size = world()

        torch.manual_seed(config.train.seed)  # the same initial weights on every rank
        self.model: HJEPA = build_model(config.model).to(self.device)
        # No buffer of the model changes during training: nothing to broadcast every step.
        self.ddp = (
            DistributedDataParallel(
                self.model,
                device_ids=None if self.device.index is None else [self.device.index],
                broadcast_buffers=False,
            )
            if self.world_size > 1
            else None
        )
        patch_size = self.model.context_encoder.patch_size
        self.loader = train_loader(config, patch_size, self.rank, self.world_size, dataset)
        self.steps_per_epoch = self.loader.sampler.num_samples // config.data.batch_size
        epochs = config.train.epochs
        self.total_steps = epochs * self.steps_per_epoch if epochs else config.train.steps
        self.masks = MultiBlockMaskSampler(self.model.grid_size, **asdict(config.masks))
        # Fail now, not after checkpoints were written, if the masks cannot be drawn on this
        # grid (the sampler's ValueError names the masks keys to change).
        self.masks(max(256, config.data.batch_size), generator=torch.Generator().manual_seed(0))
        self.optimizer = torch.optim.AdamW(param_groups(self.model), lr=config.train.lr)
        self.step = 0
        levels = range(self.model.num_levels)
        keys = ["loss", *(f"loss_{i}" for i in levels), "lr", "weight_decay", "momentum"]
        keys += [*(f"std_{i}" for i in levels), "images_per_s", "regularizer"]
        self.history: dict[str, list[float]] = {key: [] for key in keys}
        # RankMe of every target level and of the encoder tokens, every rank_every steps
        # (the monitor adds its keys to the history when it first logs)
        self.rank_every = rank_every
        self.ranks = RankMonitor(self.model.num_levels)
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load(self.checkpoint_path)

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT if self.out_dir is not None else None

    # -- one step ------------------------------------------------------------------------

    def train_step(self, images: torch.Tensor) -> dict[str, float]:
        """One optimizer step on a batch ``(B, 3, H, W)``; returns the logged values."""
        start = time.perf_counter()
        self.model.train()
        generator = torch.Generator().manual_seed(
            _step_seed(self.config.train.seed, self.rank, self.step)
        )
        torch.manual_seed(generator.initial_seed() + 1)  # drop-path, if enabled
        values = set_schedules(self.optimizer, self.config.train, self.step, self.total_steps)
        masks = self.masks(images.shape[0], generator=generator)
        mask = masks.mask.to(self.device)
        outputs = (self.ddp or self.model)(
            images.to(self.device, non_blocking=True),
            mask,
            target_mask=masks.target_mask.to(self.device),
        )
        geometry = self.model.hierarchy.geometry
        loss, per_level, reg = objective(self.config.loss, outputs, mask, geometry, generator)
        # Every rank learns whether any rank's loss is not finite, before backward (whose
        # gradient all-reduce would otherwise wait forever for the rank that stopped).
        bad_ranks = any_rank(not torch.isfinite(loss).item())
        if bad_ranks:
            where = f"; the checkpoint {self.checkpoint_path} is intact" if self.out_dir else ""
            what = f"non-finite on rank(s) {bad_ranks}" if self.world_size > 1 else loss.item()
            raise FloatingPointError(
                f"loss became {what} at step {self.step}{where}. "
                "Lower train.lr or check the input data."
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.train.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)
        self.optimizer.step()
        self.model.update_target(values["momentum"])
        if self.step % self.rank_every == 0 or self.step == self.total_steps - 1:
            self.ranks.log(self.history, self.step, outputs)
        self.step += 1

        stds = [batch_std(t.detach()) for t in outputs["targets"]]
        measured = torch.stack([loss.detach(), reg.detach(), *per_level, *stds]).float()
        logged = all_reduce_nanmean(measured).cpu()  # reduced on the backend's device
        levels = self.model.num_levels
        values["loss"], values["regularizer"] = logged[0].item(), logged[1].item()
        for level in range(levels):
            values[f"loss_{level}"] = logged[2 + level].item()
            values[f"std_{level}"] = logged[2 + levels + level].item()
        elapsed = time.perf_counter() - start
        values["images_per_s"] = images.shape[0] * self.world_size / elapsed
        for key, value in values.items():
            self.history[key].append(value)
        return values

    # -- the loop ------------------------------------------------------------------------

    def fit(
        self, callback: Callable[[Trainer], None] | None = None, until: int | None = None
    ) -> dict[str, list[float]]:
        """Train until ``total_steps``; ``callback(trainer)`` runs after every step.

        ``until`` (1..total_steps) stops early at that step, with the schedules of the whole
        run, and saves a checkpoint there: a later ``fit()`` continues exactly as if never
        stopped. A run already at or past ``until`` trains nothing."""
        if until is None:
            until = self.total_steps
        elif (
            isinstance(until, bool)
            or not isinstance(until, int)
            or not 1 <= until <= self.total_steps
        ):
            raise ValueError(
                f"until={until!r} must be a step of this run: an integer in 1..{self.total_steps}"
            )
        epoch, batch = divmod(self.step, self.steps_per_epoch)
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not (self.progress and is_main()),
            desc="H-JEPA",
            unit="step",
        )
        try:
            while self.step < until:
                self.loader.sampler.set_position(epoch, batch)
                self.loader.dataset.set_epoch(epoch)
                for images, _ in self.loader:
                    values = self.train_step(images)
                    bar.update(1)
                    bar.set_postfix(_postfix(values, self.model.num_levels), refresh=False)
                    done = self.step >= until
                    if done or self.step % self.config.train.checkpoint_every == 0:
                        self.save()
                    if callback is not None:
                        callback(self)
                    if done:
                        break
                epoch, batch = epoch + 1, 0
        except KeyboardInterrupt:
            if is_main() and self.out_dir is not None:
                print(
                    f"\nInterrupted at step {self.step}. The checkpoint {self.checkpoint_path} "
                    "is intact: Trainer(config, out_dir) resumes from it exactly."
                )
            raise
        finally:
            bar.close()
        if self.world_size > 1:
            self.check_replicas()
        if is_main() and self.out_dir is not None:
            atomic_write_json(self.history, self.out_dir / "history.json")
        return self.history

    def check_replicas(self) -> None:
        """Under DDP: raise unless every rank holds the same online and EMA weights."""
        check_replicas(self.model)
        if is_main():
            print(f"weights identical on {self.world_size} ranks after step {self.step}")

    # -- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "world_size": self.world_size,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "history": self.history,
        }

    def save(self) -> None:
        """Write ``out_dir/last.pt`` atomically (rank 0 only; no-op without ``out_dir``)."""
        if is_main() and self.checkpoint_path is not None:
            atomic_save(self.state_dict(), self.checkpoint_path)

    def load(self, path: str | os.PathLike) -> None:
        """Resume from a checkpoint of the same config (but
        :data:`~hjepa_lite.train.run_checkpoint.RESUMABLE_CHANGES`) and
        number of processes; else ValueError naming each field that differs, old and new."""
        state = read_run(path, self.device)
        changed = resume_conflicts(state, self.config, self.world_size)
        if changed:
            raise ValueError(
                f"cannot resume from {path}: {'; '.join(changed)}. A resumed run must repeat "
                "the uninterrupted one: use the checkpoint's values, another out_dir, or "
                "resume=False (CLI: --fresh)"
            )
        load_weights(self.model, state["model"], path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.history = state["history"]
        if is_main() and self.progress:
            print(f"Resuming from {path} at step {self.step} of {self.total_steps}.")


def _postfix(values: dict[str, float], levels: int) -> dict[str, str]:
    postfix = {"loss": f"{values['loss']:.3f}"}
    for i in range(levels):  # NaN: no valid target cell at this level in this batch
        value = values[f"loss_{i}"]
        postfix[f"L{i}"] = "-" if math.isnan(value) else f"{value:.3f}"
    postfix["img/s"] = f"{values['images_per_s']:.0f}"
    return postfix
