"""The optimizer's parameter groups and its per-step schedules (learning rate, weight decay,
EMA momentum: :mod:`hjepa_lite.train.schedules`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from .schedules import cosine, linear, warmup_cosine

__all__ = ["param_groups", "set_schedules"]


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on weight matrices only, none on biases and norm scales."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "apply_weight_decay": True},
        {"params": no_decay, "apply_weight_decay": False, "weight_decay": 0.0},
    ]


def set_schedules(
    optimizer: torch.optim.Optimizer, train: TrainConfig, step: int, total: int
) -> dict[str, float]:
    """Set the learning rate and weight decay of ``step`` of ``total`` on ``optimizer``'s
    groups; returns them with the EMA momentum of that step."""
    values = {
        "lr": warmup_cosine(step, total, train.lr, train.min_lr, train.warmup_steps),
        "weight_decay": cosine(step, total, *train.weight_decay),
        "momentum": linear(step, total, *train.ema_momentum),
    }
    for group in optimizer.param_groups:
        group["lr"] = values["lr"]
        if group["apply_weight_decay"]:
            group["weight_decay"] = values["weight_decay"]
    return values
