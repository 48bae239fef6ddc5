"""The hierarchy head: pooling-only levels, or a Feature Pyramid Network on top of them.

Both start from the pooled pyramid (:mod:`hjepa_lite.pyramid`) and end with one projection
per level back to ``embed_dim``:

* pooling-only: ``level_l -> project_l``
* FPN (Lin et al. 2017, as the seed describes it, on the 2-D grid)::

      lateral_l  = LayerNorm(Linear(level_l))                   every level -> feature_dim
      fpn_{L-1}  = lateral_{L-1}                                coarsest level
      fpn_l      = fuse(lateral_l, top_down_l(upsample(fpn_{l+1})))   for l = L-2 .. 0
      out_l      = project_l(fpn_l)                              back to embed_dim

  ``top_down_l`` is Linear+LayerNorm; ``fuse`` is ``add`` or ``concat`` (concatenate, then a
  Linear back to ``feature_dim``).

    >>> head = FeaturePyramid(embed_dim=32, grid_size=(7, 7), num_levels=3, use_fpn=True,
    ...                       feature_dim=16, fusion_method="concat")
    >>> [tuple(t.shape) for t in head(torch.randn(2, 49, 32))]
    [(2, 49, 32), (2, 16, 32), (2, 4, 32)]
"""

from __future__ import annotations

import torch
from torch import nn

from .pyramid import GridSize, build_pyramid, level_grid_sizes, upsample_tokens

__all__ = ["FUSION_METHODS", "UPSAMPLE_MODES", "FeaturePyramid"]

FUSION_METHODS = ("add", "concat")
UPSAMPLE_MODES = ("bilinear", "nearest")


def _linear_norm(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim))


class AddFusion(nn.Module):
    """``lateral + top_down`` (no parameters)."""

    def forward(self, lateral: torch.Tensor, top_down: torch.Tensor) -> torch.Tensor:
        return lateral + top_down


class ConcatFusion(nn.Module):
    """``Linear([lateral, top_down])``: (B, N, 2F) -> (B, N, F)."""

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2 * feature_dim, feature_dim)

    def forward(self, lateral: torch.Tensor, top_down: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([lateral, top_down], dim=-1))


def _make_fusion(method: str, feature_dim: int) -> nn.Module:
    if method == "add":
        return AddFusion()
    if method == "concat":
        return ConcatFusion(feature_dim)
    raise ValueError(f"fusion_method={method!r} is not supported; valid choices: {FUSION_METHODS}")


class FeaturePyramid(nn.Module):
    """Multi-scale features from level-0 patch tokens.

    Args:
        embed_dim: width D of the input tokens and of every output level.
        grid_size: (h, w) patch grid of the input tokens.
        num_levels: number of levels L (level 0 = the grid itself).
        use_fpn: False -> pooling-only; True -> lateral + top-down + fusion.
        feature_dim: FPN width F (None -> ``embed_dim``).
        fusion_method: ``"add"`` or ``"concat"``.
        upsample: ``"bilinear"`` (the seed's interpolation, in 2-D) or ``"nearest"``.
        pooling: ``"2d"`` or the seed's ``"1d_seed"``.

    Shapes: ``forward((B, h*w, D)) -> [(B, N_l, D) for l in range(L)]``.
    """

    def __init__(
        self,
        embed_dim: int,
        grid_size: GridSize,
        num_levels: int,
        use_fpn: bool = False,
        feature_dim: int | None = None,
        fusion_method: str = "add",
        upsample: str = "bilinear",
        pooling: str = "2d",
    ) -> None:
        super().__init__()
        if fusion_method not in FUSION_METHODS:
            raise ValueError(
                f"fusion_method={fusion_method!r} is not supported; valid choices: {FUSION_METHODS}"
            )
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(
                f"upsample={upsample!r} is not supported; valid choices: {UPSAMPLE_MODES}"
            )
        self.grid_size = tuple(grid_size)
        self.num_levels = num_levels
        self.pooling = pooling
        self.use_fpn = use_fpn
        self.upsample = upsample
        self.level_sizes = level_grid_sizes(self.grid_size, num_levels, pooling)
        feature_dim = feature_dim or embed_dim
        self.feature_dim = feature_dim if use_fpn else embed_dim

        if use_fpn:
            self.lateral = nn.ModuleList(
                _linear_norm(embed_dim, feature_dim) for _ in range(num_levels)
            )
            self.top_down = nn.ModuleList(
                _linear_norm(feature_dim, feature_dim) for _ in range(num_levels - 1)
            )
            self.fuse = nn.ModuleList(
                _make_fusion(fusion_method, feature_dim) for _ in range(num_levels - 1)
            )
        self.project = nn.ModuleList(
            nn.Linear(self.feature_dim, embed_dim) for _ in range(num_levels)
        )

    def pooled_levels(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The parameter-free bottom-up pyramid: ``[(B, N_l, D)]``."""
        return build_pyramid(tokens, self.grid_size, self.num_levels, self.pooling)[0]

    def fpn_levels(self, levels: list[torch.Tensor]) -> list[torch.Tensor]:
        """Lateral connections and the top-down pathway: ``[(B, N_l, F)]``."""
        lateral = [conv(x) for conv, x in zip(self.lateral, levels, strict=True)]
        out = [None] * self.num_levels
        out[-1] = lateral[-1]
        for level in reversed(range(self.num_levels - 1)):
            top_down = upsample_tokens(
                out[level + 1],
                self.level_sizes[level + 1],
                self.level_sizes[level],
                mode=self.upsample,
            )
            top_down = self.top_down[level](top_down)
            out[level] = self.fuse[level](lateral[level], top_down)
        return out

    def forward(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        levels = self.pooled_levels(tokens)
        if self.use_fpn:
            levels = self.fpn_levels(levels)
        return [proj(x) for proj, x in zip(self.project, levels, strict=True)]
