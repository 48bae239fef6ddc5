"""The hierarchical loss: per-level regression on the valid target cells, weighted and summed.

``loss_l`` = mean over the valid cells of level ``l`` (``target_masks[l]``) of the per-cell
regression error between prediction and (layer-normed, detached) target, averaged over the
feature dimension. Smooth-L1 is the official I-JEPA choice; MSE is the other option.
Total = ``sum_l weight_l * loss_l``. A level with no valid cell in the batch contributes 0 to
the total, and its reported per-level loss is NaN (not measured, rather than a perfect 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import nan

import torch
import torch.nn.functional as F

__all__ = ["LOSS_TYPES", "hierarchical_loss"]

LOSS_TYPES = ("smooth_l1", "mse")


def hierarchical_loss(
    outputs: dict, weights: Sequence[float], loss_type: str = "smooth_l1"
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``outputs`` from :meth:`HJEPA.forward` -> (total loss, detached per-level losses;
    NaN for a level without a valid cell)."""
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type={loss_type!r} is not supported; valid choices: {LOSS_TYPES}")
    keys = ("predictions", "targets", "target_masks")
    levels = list(zip(*(outputs[key] for key in keys), strict=True))
    if len(weights) != len(levels):
        raise ValueError(
            f"the model has {len(levels)} levels but {len(weights)} weights were given"
        )
    error = F.smooth_l1_loss if loss_type == "smooth_l1" else F.mse_loss
    total = levels[0][0].new_zeros(())
    per_level = []
    for weight, (pred, target, valid) in zip(weights, levels, strict=True):
        if valid.any():
            loss = error(pred[valid], target[valid].detach())
            per_level.append(loss.detach())
        else:  # zero, but still in the graph (DDP expects every gradient); reported as NaN
            loss = pred.sum() * 0.0
            per_level.append(torch.full_like(loss.detach(), nan))
        total = total + weight * loss
    return total, per_level
