"""The hierarchy head: pooling-only levels, or a Feature Pyramid Network on top of them.

Both start from the pooled pyramid (:mod:`hjepa_lite.model.pyramid`) and end with one projection
per level back to ``embed_dim``:

* pooling-only: ``level_l -> project_l``
* FPN (Lin et al. 2017, as the seed describes it, on the 2-D grid)::

      lateral_l  = LayerNorm(Linear(level_l))        every level -> F_l   (LateralConnection)
      fpn_{L-1}  = lateral_{L-1}                     coarsest level
      fpn_l      = top_down_l(lateral_l, fpn_{l+1})   for l = L-2 .. 0    (TopDownStep)
      out_l      = project_l(fpn_l)                  back to embed_dim    (OutputProjection)

  A :class:`~hjepa_lite.model.top_down.TopDownStep` owns its Linear + LayerNorm, its upsampler
  (:mod:`hjepa_lite.model.resample`) and its fusion (:mod:`hjepa_lite.model.fusion`):
  ``top_down_l(lateral, coarse) = fuse(lateral, layer(upsample(coarse)))``.

The seed's four "Future Enhancements" are options of the same head:

* ``upsample="transposed_conv"``: learned 2x2 stride-2 upsampling instead of interpolation;
* ``fusion_method="attention"``: fine tokens cross-attend to the coarse level; no upsampling
  (the attention resamples; so ``upsample`` must stay an interpolation, which it then does
  not use);
* ``feature_dim=[F_0, F_1, ...]``: one width per level (the top-down layers change the width);
* ``bottom_up=True``: PANet's bottom-up path (:class:`~hjepa_lite.model.bottom_up.BottomUpPath`),
  a block plugged in after the top-down pathway.

    >>> head = FeaturePyramid(embed_dim=32, grid_size=(7, 7), num_levels=3, use_fpn=True,
    ...                       feature_dim=16, fusion_method="concat")
    >>> [tuple(t.shape) for t in head(torch.randn(2, 49, 32))]
    [(2, 49, 32), (2, 16, 32), (2, 4, 32)]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..config import DEFAULT_POOLING, Pooling
from ..core.grid import GridSize
from .bottom_up import BottomUpPath
from .fusion import fusion_class
from .geometry import PyramidGeometry
from .linear_norm import LinearNorm
from .pyramid import pool_levels
from .resample import NoUpsample, upsampler_class
from .top_down import TopDownLayer, TopDownStep

__all__ = [
    "FeaturePyramid",
    "LateralConnection",
    "OutputProjection",
    "step_upsample",
]


def step_upsample(fusion_method: str, upsample: str) -> str | None:
    """The upsampling the top-down steps of a head with these settings run: ``upsample``, or
    None when the fusion resamples the coarse level itself (``Fusion.resamples``). A learned
    upsampler cannot be combined with such a fusion (it would never be used): ValueError."""
    fusion, upsampler = fusion_class(fusion_method), upsampler_class(upsample)
    if not fusion.resamples:
        return upsample
    if upsampler.learned:
        raise ValueError(
            f"upsample={upsample!r} cannot be combined with fusion_method={fusion_method!r}: "
            f"{fusion_method} resamples the coarse level itself, so a learned upsampler would "
            f"never be used; use an interpolation (unused) or fusion_method 'add' / 'concat'"
        )
    return None


class LateralConnection(LinearNorm):
    """FPN's lateral connection of one level: Linear + LayerNorm, ``D -> F_l``."""


class OutputProjection(nn.Linear):
    """The projection of one level back to the encoder width: ``Linear(F_l -> D)``."""


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

    Parts (with ``use_fpn``): ``lateral[l]`` (:class:`LateralConnection`), ``top_down[l]``
    (:class:`~hjepa_lite.model.top_down.TopDownStep` from level l+1 to l), ``bottom_up_path``
    (:class:`~hjepa_lite.model.bottom_up.BottomUpPath` or None); always ``project[l]``.

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
        pooling: Pooling = DEFAULT_POOLING,
        bottom_up: bool = False,
        attention_heads: int = 1,
    ) -> None:
        super().__init__()
        fusion, upsampler = fusion_class(fusion_method), upsampler_class(upsample)
        mode = step_upsample(fusion_method, upsample) if use_fpn else upsample
        if bottom_up and not use_fpn:
            raise ValueError("bottom_up=True (PANet) needs use_fpn=True: it follows the FPN")
        self.use_fpn = use_fpn
        self.fusion_method = fusion_method
        self.upsample = upsample
        self.bottom_up = bottom_up
        self.geometry = geometry = PyramidGeometry(tuple(grid_size), num_levels, pooling)
        sizes = list(geometry.level_sizes)
        widths = _level_widths(feature_dim, embed_dim, num_levels)
        self.feature_dims = widths if use_fpn else [embed_dim] * num_levels

        if use_fpn:
            factor = geometry.factor
            steps = range(num_levels - 1)  # step i joins level i (fine) and level i + 1
            self.lateral = nn.ModuleList(LateralConnection(embed_dim, w) for w in widths)
            # Each kind of part is created for every step before the next kind, then the parts
            # are grouped by step: a seed gives the initial weights of the earlier flat layout.
            layers = [TopDownLayer(widths[i + 1], widths[i]) for i in steps]
            kind = NoUpsample if mode is None else upsampler  # None: the fusion resamples
            upsamplers = [
                kind.for_step(widths[i + 1], sizes[i + 1], sizes[i], factor) for i in steps
            ]
            cells = geometry.cell_patches
            fusions = [
                fusion.for_step(widths[i], attention_heads, sizes[i : i + 2], cells[i : i + 2])
                for i in steps
            ]
            self.top_down = nn.ModuleList(
                TopDownStep(*parts) for parts in zip(layers, upsamplers, fusions, strict=True)
            )
            self.bottom_up_path = BottomUpPath(widths, sizes, factor) if bottom_up else None
        self.project = nn.ModuleList(OutputProjection(w, embed_dim) for w in self.feature_dims)

    # The pyramid's shape, read from its geometry (held once, never copied).
    @property
    def grid_size(self) -> tuple[int, int]:
        return self.geometry.grid_size

    @property
    def num_levels(self) -> int:
        return self.geometry.num_levels

    @property
    def pooling(self) -> Pooling:
        return self.geometry.pooling

    @property
    def level_sizes(self) -> list[tuple[int, int]]:
        """``(h_l, w_l)`` per level, finest first."""
        return list(self.geometry.level_sizes)

    @property
    def feature_dim(self) -> int:
        """Width of level 0 (the FPN width when every level has the same)."""
        return self.feature_dims[0]

    def pooled_levels(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The parameter-free bottom-up pyramid: ``[(B, N_l, D)]``."""
        return pool_levels(tokens, self.geometry)

    def top_down_pass(
        self, levels: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None]]:
        """Lateral connections and the top-down pathway, keeping what each step fused:
        ``(lateral, fpn, down)``, each ``[(B, N_l, F_l)]`` finest first, where
        ``fpn_l = fuse(lateral_l, down_l)`` and ``down_l`` is step ``l``'s top-down input
        (None at the coarsest level; on the coarse grid for a fusion that resamples)."""
        lateral = [conv(x) for conv, x in zip(self.lateral, levels, strict=True)]
        fpn, down = [None] * self.num_levels, [None] * self.num_levels
        fpn[-1] = lateral[-1]
        for level in reversed(range(self.num_levels - 1)):
            step = self.top_down[level]
            down[level] = step.from_coarser(fpn[level + 1])
            fpn[level] = step.fuse(lateral[level], down[level])
        return lateral, fpn, down

    def fpn_levels(self, levels: list[torch.Tensor]) -> list[torch.Tensor]:
        """Lateral connections, the top-down pathway (and PANet's bottom-up path if
        ``bottom_up``): ``[(B, N_l, F_l)]``."""
        fpn = self.top_down_pass(levels)[1]
        return self.bottom_up_path(fpn) if self.bottom_up else fpn

    def forward(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        levels = self.pooled_levels(tokens)
        if self.use_fpn:
            levels = self.fpn_levels(levels)
        return [proj(x) for proj, x in zip(self.project, levels, strict=True)]
