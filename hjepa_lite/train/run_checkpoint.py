"""A training run's checkpoint (``last.pt``, what :class:`~hjepa_lite.train.trainer.Trainer`
writes): reading it, building its model, and what a resume may change."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..model.factory import build_model
from ..model.hjepa import HJEPA
from .checkpoint import load_checkpoint

__all__ = [
    "CHECKPOINT",
    "RESUMABLE_CHANGES",
    "load_trained",
    "load_weights",
    "read_run",
    "resume_conflicts",
    "trained_config",
]

CHECKPOINT = "last.pt"

# Config keys a resumed run may change: they do not change the steps already taken (more
# steps or epochs continue the run; workers load the same batches, see data/loader.py). Every
# other key, and the number of processes, must equal the checkpoint's.
RESUMABLE_CHANGES = ("train.steps", "train.epochs", "train.checkpoint_every", "data.num_workers")


def load_trained(path: str | os.PathLike, device: str = "cpu") -> tuple[HJEPA, dict]:
    """A trained model (in eval mode) and its history from a checkpoint file or run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    state = read_run(path, device)
    model = build_model(Config.from_dict(state["config"]).model)
    load_weights(model, state["model"], path)
    return model.to(device).eval(), state["history"]


def trained_config(path: str | os.PathLike) -> Config:
    """The config a checkpoint file or run folder was trained with (its ``train.seed`` names
    the initial weights: :func:`hjepa_lite.evaluation.dense_probe.untrained_like`)."""
    path = Path(path)
    return Config.from_dict(read_run(path / CHECKPOINT if path.is_dir() else path, "cpu")["config"])


_RUN_KEYS = ("model", "optimizer", "config", "step", "history")  # what Trainer.save writes


def read_run(path: str | os.PathLike, device: str | torch.device) -> dict[str, Any]:
    """A Trainer checkpoint; ValueError naming the file if it is another kind of file."""
    state = load_checkpoint(path, map_location=device)
    missing = [key for key in _RUN_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        found = sorted(map(str, state))[:5] if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{path} is not an hjepa_lite training checkpoint (no {missing}; it holds "
            f"{found}); give a run folder or the last.pt that Trainer wrote"
        )
    return state


def load_weights(model: HJEPA, weights: Mapping[str, torch.Tensor], path) -> None:
    """``model.load_state_dict`` with the file named when the tensors do not fit."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError) as err:
        reason = str(err).strip().splitlines()[0]
        raise ValueError(f"{path}: its weights do not fit its own config: {reason}") from err


def resume_conflicts(state: Mapping[str, Any], config: Config, world_size: int) -> list[str]:
    """What a resume from checkpoint ``state`` would change, one text per field (old and
    new value); empty when ``config`` and ``world_size`` may continue it."""
    # Through Config: keys added to the schema later take their defaults (old checkpoints).
    saved = _leaves(Config.from_dict(state["config"]).to_dict())
    current = _leaves(config.to_dict())
    changed = [
        f"{key} was {saved.get(key)!r} in the checkpoint, {current.get(key)!r} now"
        for key in sorted(saved.keys() | current.keys())
        if key not in RESUMABLE_CHANGES and saved.get(key) != current.get(key)
    ]
    # a checkpoint written before the world size was saved: not checked
    if state.get("world_size", world_size) != world_size:
        changed.append(
            f"world size was {state['world_size']} in the checkpoint, {world_size} "
            "now (processes x data.batch_size is the batch)"
        )
    return changed


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_leaves(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
