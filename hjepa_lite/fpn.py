"""The hierarchy head: pooling-only levels, or a Feature Pyramid Network on top of them.

Both start from the pooled pyramid (:mod:`hjepa_lite.pyramid`) and end with one projection
per level back to ``embed_dim``:

* pooling-only: ``level_l -> project_l``
* FPN (Lin et al. 2017, as the seed describes it, on the 2-D grid)::

      lateral_l  = LayerNorm(Linear(level_l))                   every level -> F_l
      fpn_{L-1}  = lateral_{L-1}                                coarsest level
      fpn_l      = fuse(lateral_l, top_down_l(upsample(fpn_{l+1})))   for l = L-2 .. 0
      out_l      = project_l(fpn_l)                              back to embed_dim

  ``top_down_l`` is Linear+LayerNorm (F_{l+1} -> F_l); ``fuse`` is ``add`` or ``concat``
  (:mod:`hjepa_lite.fusion`). The Linear commutes with interpolation, so it runs before
  the upsampling, on the coarse grid (:meth:`FeaturePyramid.from_coarser`).

The seed's four "Future Enhancements" are options of the same head:

* ``upsample="transposed_conv"``: learned 2x2 stride-2 upsampling
  (:class:`~hjepa_lite.resample.TransposedConvUpsample`) instead of interpolation;
* ``fusion_method="attention"``: fine tokens cross-attend to the coarse level,
  ``fpn_l = fuse(lateral_l, top_down_l(fpn_{l+1}))`` with no upsampling (the attention
  resamples; so ``upsample`` must stay an interpolation, which it then does not use);
* ``feature_dim=[F_0, F_1, ...]``: one width per level (``top_down_l`` changes the width);
* ``bottom_up=True`` (PANet, Liu et al. 2018), after the top-down pass::

      pan_0      = fpn_0
      pan_{l+1}  = LayerNorm(Linear(fpn_{l+1} + down_l(pan_l)))   down_l: 2x2 stride-2 conv

    >>> head = FeaturePyramid(embed_dim=32, grid_size=(7, 7), num_levels=3, use_fpn=True,
    ...                       feature_dim=16, fusion_method="concat")
    >>> [tuple(t.shape) for t in head(torch.randn(2, 49, 32))]
    [(2, 49, 32), (2, 16, 32), (2, 4, 32)]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .fusion import FUSION_METHODS, AddFusion, ConcatFusion, make_fusion
from .pyramid import (
    GridSize,
    build_pyramid,
    level_grid_sizes,
    pooling_factor,
    upsample_tokens,
)
from .resample import StridedConvDownsample, TransposedConvUpsample

__all__ = ["FUSION_METHODS", "UPSAMPLE_MODES", "AddFusion", "ConcatFusion", "FeaturePyramid"]

UPSAMPLE_MODES = ("bilinear", "nearest", "transposed_conv")


def _linear_norm(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim))


def _level_widths(feature_dim: int | Sequence[int] | None, embed_dim: int, levels: int):
    """``feature_dim`` (int, one per level, or None -> embed_dim) as a list of L widths."""
    if feature_dim is None or isinstance(feature_dim, int):
        return [feature_dim or embed_dim] * levels
    widths = list(feature_dim)
    if len(widths) != levels or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(
            f"fpn.feature_dim={widths} must be one positive int, null, or a list of "
            f"{levels} positive ints (one width per level, finest first; "
            f"num_hierarchies={levels})"
        )
    return widths


class FeaturePyramid(nn.Module):
    """Multi-scale features from level-0 patch tokens.

    Args:
        embed_dim: width D of the input tokens and of every output level.
        grid_size: (h, w) patch grid of the input tokens.
        num_levels: number of levels L (level 0 = the grid itself).
        use_fpn: False -> pooling-only; True -> lateral + top-down + fusion.
        feature_dim: FPN width F (None -> ``embed_dim``), or a list of one width per level.
        fusion_method: ``"add"``, ``"concat"`` or ``"attention"``.
        upsample: ``"bilinear"`` (the seed's interpolation, in 2-D), ``"nearest"`` or
            ``"transposed_conv"`` (learned).
        pooling: ``"2d"`` or the seed's ``"1d_seed"``.
        bottom_up: add PANet's bottom-up path after the top-down one.
        attention_heads: heads of the attention fusion (must divide every width).

    Shapes: ``forward((B, h*w, D)) -> [(B, N_l, D) for l in range(L)]``.
    """

    def __init__(
        self,
        embed_dim: int,
        grid_size: GridSize,
        num_levels: int,
        use_fpn: bool = False,
        feature_dim: int | Sequence[int] | None = None,
        fusion_method: str = "add",
        upsample: str = "bilinear",
        pooling: str = "2d",
        bottom_up: bool = False,
        attention_heads: int = 1,
    ) -> None:
        super().__init__()
        for name, value, choices in [
            ("fusion_method", fusion_method, FUSION_METHODS),
            ("upsample", upsample, UPSAMPLE_MODES),
        ]:
            if value not in choices:
                raise ValueError(f"{name}={value!r} is not supported; valid choices: {choices}")
        if use_fpn and fusion_method == "attention" and upsample == "transposed_conv":
            raise ValueError(
                "upsample='transposed_conv' cannot be combined with fusion_method='attention': "
                "attention resamples the coarse level itself; use upsample 'bilinear' or "
                "'nearest' (unused), or fusion_method 'add' / 'concat'"
            )
        if bottom_up and not use_fpn:
            raise ValueError("bottom_up=True (PANet) needs use_fpn=True: it follows the FPN")
        self.grid_size = tuple(grid_size)
        self.num_levels = num_levels
        self.pooling = pooling
        self.use_fpn = use_fpn
        self.fusion_method = fusion_method
        self.upsample = upsample
        self.bottom_up = bottom_up
        self.level_sizes = sizes = level_grid_sizes(self.grid_size, num_levels, pooling)
        widths = _level_widths(feature_dim, embed_dim, num_levels)
        self.feature_dims = widths if use_fpn else [embed_dim] * num_levels
        factor = pooling_factor(pooling)
        steps = range(num_levels - 1)

        if use_fpn:
            # step i connects level i (fine) and level i + 1 (coarse)
            self.lateral = nn.ModuleList(_linear_norm(embed_dim, w) for w in widths)
            self.top_down = nn.ModuleList(_linear_norm(widths[i + 1], widths[i]) for i in steps)
            if upsample == "transposed_conv":
                self.upsamplers = nn.ModuleList(
                    TransposedConvUpsample(
                        widths[i + 1], widths[i + 1], sizes[i + 1], sizes[i], factor
                    )
                    for i in steps
                )
            # attention also needs both grids and the patches a cell spans (2**l per axis)
            cell = [(factor[0] ** level, factor[1] ** level) for level in range(num_levels)]
            geometry = [
                dict(
                    num_heads=attention_heads,
                    fine_size=sizes[i],
                    coarse_size=sizes[i + 1],
                    fine_cell=cell[i],
                    coarse_cell=cell[i + 1],
                )
                if fusion_method == "attention"
                else {}
                for i in steps
            ]
            self.fuse = nn.ModuleList(
                make_fusion(fusion_method, widths[i], **geometry[i]) for i in steps
            )
            if bottom_up:
                self.downsamplers = nn.ModuleList(
                    StridedConvDownsample(widths[i], widths[i + 1], sizes[i], sizes[i + 1], factor)
                    for i in steps
                )
                self.bottom_up_smooth = nn.ModuleList(
                    _linear_norm(widths[i + 1], widths[i + 1]) for i in steps
                )
        self.project = nn.ModuleList(nn.Linear(w, embed_dim) for w in self.feature_dims)

    @property
    def feature_dim(self) -> int:
        """Width of level 0 (the FPN width when every level has the same)."""
        return self.feature_dims[0]

    def pooled_levels(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The parameter-free bottom-up pyramid: ``[(B, N_l, D)]``."""
        return build_pyramid(tokens, self.grid_size, self.num_levels, self.pooling)[0]

    def from_coarser(self, level: int, coarse: torch.Tensor) -> torch.Tensor:
        """What ``fpn_{level+1}`` sends down to ``level``: ``(B, N_level, F_level)`` on the
        fine grid, or ``(B, N_{level+1}, F_level)`` on its own grid for attention fusion."""
        if self.fusion_method == "attention":
            return self.top_down[level](coarse)
        if self.upsample == "transposed_conv":
            return self.top_down[level](self.upsamplers[level](coarse))
        # top_down(upsample(x)), computed as LayerNorm(upsample(Linear(x))): interpolation
        # mixes cells with weights that sum to 1, so it commutes with the Linear (bias
        # included), which then runs on the 4x smaller coarse grid. Same function, less work.
        linear, norm = self.top_down[level]
        sizes = self.level_sizes
        return norm(upsample_tokens(linear(coarse), sizes[level + 1], sizes[level], self.upsample))

    def fpn_levels(self, levels: list[torch.Tensor]) -> list[torch.Tensor]:
        """Lateral connections, the top-down pathway (and PANet's bottom-up path if
        enabled): ``[(B, N_l, F_l)]``."""
        lateral = [conv(x) for conv, x in zip(self.lateral, levels, strict=True)]
        out = [None] * self.num_levels
        out[-1] = lateral[-1]
        for level in reversed(range(self.num_levels - 1)):
            out[level] = self.fuse[level](lateral[level], self.from_coarser(level, out[level + 1]))
        if self.bottom_up:
            out = self.bottom_up_levels(out)
        return out

    def bottom_up_levels(self, fpn: list[torch.Tensor]) -> list[torch.Tensor]:
        """PANet's path: ``pan_{l+1} = smooth_l(fpn_{l+1} + down_l(pan_l))``, ``pan_0 = fpn_0``."""
        out = [fpn[0]]
        for level in range(self.num_levels - 1):
            down = self.downsamplers[level](out[-1])
            out.append(self.bottom_up_smooth[level](fpn[level + 1] + down))
        return out

    def forward(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        levels = self.pooled_levels(tokens)
        if self.use_fpn:
            levels = self.fpn_levels(levels)
        return [proj(x) for proj, x in zip(self.project, levels, strict=True)]
