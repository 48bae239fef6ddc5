"""What a trained FPN fusion learned: how much each fused level takes from each path.

Step ``l`` of the top-down pathway fuses level ``l``'s lateral features with what comes down
from level ``l + 1`` (:mod:`hjepa_lite.model.top_down`). Every fusion of the library writes its
output as a *sum of two terms*, one per path (:func:`fusion_terms`)::

    add:        fpn_l = lateral_l + down_l                      (fixed 1 : 1)
    concat:     fpn_l = W_lat lateral_l + W_td down_l + bias     (W = [W_lat, W_td], learned)
    attention:  fpn_l = lateral_l + Attention(lateral_l, coarse)

with ``down_l = layer(upsample(fpn_{l+1}))``
(:meth:`~hjepa_lite.model.top_down.TopDownStep.from_coarser`).
The *top-down share* of a level is ``var(top-down term) / (var(lateral term) + var(top-down
term))``, in [0, 1] (:func:`top_down_shares`); PANet's bottom-up path
(:mod:`hjepa_lite.model.bottom_up`) gets the same measure at the coarse levels
(:func:`bottom_up_shares`). ``var`` is the variance of every channel over all images and cells,
averaged over channels (:func:`variance`); the two variances are compared, not the variance of
their sum (which also holds their covariance). :func:`scale_top_down` turns a trained head's
top-down path down (0: off) or up, to measure what its fused levels use it for.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from einops import einsum, rearrange, reduce

from ..model.fpn import FeaturePyramid
from ..model.fusion import AddFusion, ConcatFusion, CrossAttentionFusion
from ..model.hjepa import HJEPA

__all__ = [
    "attention_maps",
    "bottom_up_shares",
    "concat_halves",
    "fusion_terms",
    "half_norms",
    "head_tokens",
    "scale_top_down",
    "top_down_shares",
    "variance",
]


@torch.no_grad()
def head_tokens(model: HJEPA, images: torch.Tensor) -> torch.Tensor:
    """What enters the trained model's online head for whole images (no mask):
    ``(B, 3, H, W) -> (B, N, D)`` (layer-normed first when the model normalises them)."""
    tokens = model.eval().context_encoder(images)
    return F.layer_norm(tokens, tokens.shape[-1:]) if model.normalize_online else tokens


def concat_halves(fusion: ConcatFusion) -> tuple[torch.Tensor, torch.Tensor]:
    """``Linear(2F -> F)``'s weight ``(F, 2F)`` split into ``(W_lat, W_td)``, each ``(F, F)``:
    ``proj([a, b]) = W_lat a + W_td b + bias`` (the lateral half first, as ``ConcatFusion``
    concatenates)."""
    weight = fusion.proj.weight.detach()
    width = weight.shape[0]
    return weight[:, :width], weight[:, width:]


def half_norms(head: FeaturePyramid) -> list[tuple[float, float]]:
    """``[(|W_lat|, |W_td|)]`` (Frobenius norms) of every step, finest first. ``add`` is the
    fixed ``W_lat = W_td = I``: both norms ``sqrt(F)``, ratio 1."""
    norms = []
    for step in head.top_down:
        if isinstance(step.fuse, ConcatFusion):
            lateral, top_down = concat_halves(step.fuse)
            norms.append((float(lateral.norm()), float(top_down.norm())))
        elif isinstance(step.fuse, AddFusion):
            width = step.layer[0].out_features
            norms.append((math.sqrt(width), math.sqrt(width)))
        else:
            raise ValueError(f"{type(step.fuse).__name__} is not a linear mix of its two inputs")
    return norms


def _apply(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return einsum(x, weight, "batch cell channel_in, channel channel_in -> batch cell channel")


@torch.no_grad()
def _top_down_pass(head: FeaturePyramid, tokens: torch.Tensor):
    """The FPN's top-down pass, keeping each step's two terms: ``(fpn levels, terms)``."""
    lateral, fpn, down = head.top_down_pass(head.pooled_levels(tokens))
    terms = []
    for level, step in enumerate(head.top_down):
        if isinstance(step.fuse, AddFusion):
            terms.append((lateral[level], down[level]))
        elif isinstance(step.fuse, ConcatFusion):
            w_lat, w_td = concat_halves(step.fuse)
            terms.append((_apply(w_lat, lateral[level]), _apply(w_td, down[level])))
        elif isinstance(step.fuse, CrossAttentionFusion):
            terms.append((lateral[level], fpn[level] - lateral[level]))
        else:
            raise ValueError(f"unknown fusion {type(step.fuse).__name__}")
    return fpn, terms


def fusion_terms(
    head: FeaturePyramid, tokens: torch.Tensor
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``[(lateral term, top-down term)]`` of every fused level ``l = 0 .. L-2``, each
    ``(B, N_l, F_l)``, from the head's input ``tokens`` ``(B, N, D)``. Their sum is the
    fused level (plus concat's bias), before PANet's path."""
    if not head.use_fpn:
        raise ValueError("a pooling-only head fuses nothing")
    return _top_down_pass(head, tokens)[1]


def variance(x: torch.Tensor) -> float:
    """``(B, N, C)`` -> the variance of each channel over all images and cells, averaged over
    the channels (the total variance divided by C)."""
    cells = rearrange(x.double(), "batch cell channel -> (batch cell) channel")
    return float(reduce(cells.var(dim=0, unbiased=False), "channel ->", "mean"))


def _share(own: torch.Tensor, other: torch.Tensor) -> float:
    a, b = variance(own), variance(other)
    return b / (a + b) if a + b > 0 else 0.0


def top_down_shares(head: FeaturePyramid, tokens: torch.Tensor) -> list[float]:
    """Per fused level ``l = 0 .. L-2``: ``var(top-down term) / (var(lateral) + var(top-down))``,
    in [0, 1]; 0.5 = both paths vary as much."""
    return [_share(lateral, top_down) for lateral, top_down in fusion_terms(head, tokens)]


@torch.no_grad()
def attention_maps(
    head: FeaturePyramid, tokens: torch.Tensor, level: int, cells: list[tuple[int, int]]
) -> torch.Tensor:
    """Attention fusion's weights at step ``level``: for each fine cell ``(row, col)`` of level
    ``level``, how much it takes from each cell of level ``level + 1``, averaged over heads and
    images: ``(len(cells), h_coarse, w_coarse)``, each map summing to 1."""
    step = head.top_down[level]
    if not isinstance(step.fuse, CrossAttentionFusion):
        raise ValueError(f"step {level} fuses with {type(step.fuse).__name__}, not attention")
    laterals, _, down = head.top_down_pass(head.pooled_levels(tokens))
    lateral, coarse = laterals[level], down[level]  # coarse: (B, N_coarse, F), not resampled
    fuse = step.fuse
    _, weights = fuse.attn(
        lateral + fuse.pos_fine, coarse + fuse.pos_coarse, coarse, average_attn_weights=True
    )  # (B, N_fine, N_coarse)
    (_, width), (h_c, w_c) = head.level_sizes[level], head.level_sizes[level + 1]
    chosen = weights[:, [row * width + col for row, col in cells]]
    mean = reduce(chosen, "batch cell coarse -> cell coarse", "mean")
    return rearrange(mean, "cell (h w) -> cell h w", h=h_c, w=w_c)


@torch.no_grad()
def bottom_up_shares(head: FeaturePyramid, tokens: torch.Tensor) -> list[float]:
    """PANet's path (``pan_{l+1} = smooth(fpn_{l+1} + down(pan_l))``), per coarse level
    ``l + 1 = 1 .. L-1``: ``var(down(pan_l)) / (var(fpn_{l+1}) + var(down(pan_l)))``, in [0, 1]."""
    if head.bottom_up_path is None:
        raise ValueError("this head has no PANet bottom-up path (bottom_up=False)")
    fpn = head.top_down_pass(head.pooled_levels(tokens))[1]
    path, pan, shares = head.bottom_up_path, [fpn[0]], []
    for down, smooth, coarser in zip(path.down, path.smooth, fpn[1:], strict=True):
        from_below = down(pan[-1])
        shares.append(_share(coarser, from_below))
        pan.append(smooth(coarser + from_below))
    return shares


def scale_top_down(head: FeaturePyramid, scale: float) -> FeaturePyramid:
    """A copy of ``head`` whose every top-down term is multiplied by ``scale``: with ``add``,
    ``fpn_l = lateral_l + scale * down_l`` (``concat``: ``W_td (scale * down_l)``), where
    ``down_l`` comes from the copy's own ``fpn_{l+1}``. ``scale = 0`` leaves each level its
    lateral term, ``1`` the head as trained. Done by scaling the affine weights of each step's
    final LayerNorm (``scale * LN(x) = LN(x)`` with ``gamma, beta`` times ``scale``); the
    original is not changed."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"scale={scale!r} must be a finite number (0: no top-down path)")
    if not head.use_fpn:
        raise ValueError("a pooling-only head has no top-down path to scale")
    for level, step in enumerate(head.top_down):
        if not isinstance(step.fuse, (AddFusion, ConcatFusion)):
            raise ValueError(
                f"step {level} fuses with {type(step.fuse).__name__}: only add and concat are "
                "linear in their top-down input (valid fusions: add, concat)"
            )
    scaled = copy.deepcopy(head)
    with torch.no_grad():
        for step in scaled.top_down:
            norm = step.layer[1]
            norm.weight.mul_(scale)
            norm.bias.mul_(scale)
    return scaled
