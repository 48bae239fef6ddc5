"""One step of FPN's top-down pathway: what a coarse level sends down to the finer one.

Step ``l`` joins level ``l`` (fine) and level ``l + 1`` (coarse)::

    fpn_l = fuse(lateral_l, layer(upsample(fpn_{l+1})))

``layer`` (:class:`TopDownLayer`, Linear + LayerNorm) maps the width ``F_{l+1} -> F_l``;
``upsample`` is the :class:`~hjepa_lite.model.resample.Upsampler` chosen once at construction
(nearest, bilinear, transposed conv, or none for attention fusion); ``fuse`` is the
:class:`~hjepa_lite.model.fusion.Fusion` (add, concat or attention).

Interpolation commutes with the Linear (its weights for each fine cell sum to 1), so for
interpolation the step runs the Linear first, on the 4x smaller coarse grid, and only the
LayerNorm after upsampling: the same function, less work (:meth:`TopDownStep.from_coarser`).
"""

from __future__ import annotations

import torch
from torch import nn

from .fusion import Fusion
from .linear_norm import LinearNorm
from .resample import Upsampler

__all__ = ["TopDownLayer", "TopDownStep"]


class TopDownLayer(LinearNorm):
    """The top-down "convolution" of one step: Linear + LayerNorm, ``F_{l+1} -> F_l``."""


class TopDownStep(nn.Module):
    """``forward(lateral_l (B, N_l, F_l), fpn_{l+1} (B, N_{l+1}, F_{l+1})) -> fpn_l
    (B, N_l, F_l)``."""

    def __init__(self, layer: TopDownLayer, upsample: Upsampler, fuse: Fusion) -> None:
        super().__init__()
        self.layer = layer
        self.upsample = upsample
        self.fuse = fuse

    def from_coarser(self, coarse: torch.Tensor) -> torch.Tensor:
        """``layer(upsample(coarse))``: ``(B, N_l, F_l)`` on the fine grid, or
        ``(B, N_{l+1}, F_l)`` on the coarse grid when there is no upsampling (attention)."""
        linear, norm = self.layer
        if self.upsample.commutes_with_linear:
            # LayerNorm(upsample(Linear(x))): the Linear (bias included) runs on the coarse grid
            return norm(self.upsample(linear(coarse)))
        return norm(linear(self.upsample(coarse)))

    def forward(self, lateral: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self.fuse(lateral, self.from_coarser(coarse))
