"""What one training step minimises, read from the config's ``loss`` section::

total = sum_l w_l * loss_l                    (hidden cells: the hierarchical loss)
      + regularizer_weight * regularizer      (anti-collapse, on the context tokens)
      + context_weight * context_loss         (visible cells, V-JEPA 2.1; off at 0)
"""

from __future__ import annotations

import torch

from ..config import LossConfig
from ..model.geometry import PyramidGeometry
from .context_loss import context_loss
from .loss import hierarchical_loss
from .regularizers import regularizer

__all__ = ["objective"]


def objective(
    loss: LossConfig,
    outputs: dict,
    mask: torch.Tensor,
    geometry: PyramidGeometry,
    generator: torch.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """``outputs`` of :meth:`HJEPA.forward`, its ``(B, N)`` mask and the pyramid's geometry
    (``model.hierarchy.geometry``) -> (total, the detached per-level losses of the hidden
    cells, the regularizer before its weight)."""
    total, per_level = hierarchical_loss(outputs, loss.level_weights, loss.type)
    reg = regularizer(loss.regularizer, outputs["context"], generator)
    total = total + loss.regularizer_weight * reg
    if loss.context_weight > 0:
        visible = context_loss(outputs, mask, geometry, loss.level_weights, loss.type)
        total = total + loss.context_weight * visible
    return total, per_level, reg
