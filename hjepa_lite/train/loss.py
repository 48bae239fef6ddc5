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

from ..core.registry import resolve

__all__ = ["ERRORS", "LOSS_TYPES", "hierarchical_loss", "regression_error"]

# loss.type -> the per-element regression error (called with the torch.nn.functional API)
ERRORS = {"smooth_l1": F.smooth_l1_loss, "mse": F.mse_loss}
LOSS_TYPES = tuple(ERRORS)


def regression_error(loss_type: str):
    """The error function of ``loss.type`` (ValueError naming the valid choices)."""
    return resolve(ERRORS, "loss_type", loss_type)


def hierarchical_loss(
    outputs: dict, weights: Sequence[float], loss_type: str = "smooth_l1"
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``outputs`` from :meth:`HJEPA.forward` -> (total loss, detached per-level losses;
    NaN for a level without a valid cell)."""
    error = regression_error(loss_type)
    keys = ("predictions", "targets", "target_masks")
    levels = list(zip(*(outputs[key] for key in keys), strict=True))
    if len(weights) != len(levels):
        raise ValueError(
            f"the model has {len(levels)} levels but {len(weights)} weights were given"
        )
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
