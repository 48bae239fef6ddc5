"""``LinearNorm``: FPN's 1x1 convolution, for tokens.

In a CNN, FPN's lateral and top-down layers are 1x1 convolutions; on ``(B, N, C)`` tokens
that is a ``Linear`` applied to every token. Here it is followed by a ``LayerNorm``, which
puts every level back on one scale (pooling shrinks the spread of coarse tokens). The FPN
head uses it in three roles: lateral connections (:mod:`hjepa_lite.model.fpn`), top-down layers
(:mod:`hjepa_lite.model.top_down`) and the smoothing of PANet's path
(:mod:`hjepa_lite.model.bottom_up`).

It is an ``nn.Sequential`` (``0`` = Linear, ``1`` = LayerNorm), so weights of a hand-built
``nn.Sequential(nn.Linear(i, o), nn.LayerNorm(o))`` load into it as they are.
"""

from __future__ import annotations

from torch import nn

__all__ = ["LinearNorm"]


class LinearNorm(nn.Sequential):
    """``LayerNorm(Linear(x))`` on every token: ``(B, N, in_dim) -> (B, N, out_dim)``."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim))
