"""PANet's bottom-up path (Liu et al. 2018): an optional block after the top-down pathway.

After the top-down pass, fine levels know about coarse context, but coarse levels still know
little about fine detail. The bottom-up path starts from the finest fused level and goes
up, each step a learned 2x2 stride-2 downsampling added to the next coarser FPN level::

    pan_0     = fpn_0
    pan_{l+1} = smooth_l(fpn_{l+1} + down_l(pan_l))

``down_l`` is a :class:`~hjepa_lite.model.resample.StridedConvDownsample` (``F_l -> F_{l+1}``),
``smooth_l`` a Linear + LayerNorm. It maps the list of FPN levels to a list of the same
shapes, so the head plugs it in after the top-down pathway when ``bottom_up=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core.grid import GridSize
from .linear_norm import LinearNorm
from .resample import StridedConvDownsample

__all__ = ["BottomUpPath"]


class BottomUpPath(nn.Module):
    """``forward([fpn_l (B, N_l, F_l)]) -> [pan_l (B, N_l, F_l)]``, finest level first.

    Args:
        widths: the width ``F_l`` of every level.
        sizes: the grid size of every level.
        factor: the pooling factor per axis (``(2, 2)``, or ``(1, 2)`` for ``1d_seed``).
    """

    def __init__(
        self, widths: Sequence[int], sizes: Sequence[GridSize], factor: tuple[int, int]
    ) -> None:
        super().__init__()
        steps = range(len(widths) - 1)
        self.down = nn.ModuleList(
            StridedConvDownsample(widths[i], widths[i + 1], sizes[i], sizes[i + 1], factor)
            for i in steps
        )
        self.smooth = nn.ModuleList(LinearNorm(widths[i + 1], widths[i + 1]) for i in steps)

    def forward(self, fpn: list[torch.Tensor]) -> list[torch.Tensor]:
        out = [fpn[0]]
        for down, smooth, coarser in zip(self.down, self.smooth, fpn[1:], strict=True):
            out.append(smooth(coarser + down(out[-1])))
        return out
