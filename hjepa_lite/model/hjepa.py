"""Hierarchical I-JEPA: predict the target encoder's features of hidden patches, at every
level of a multi-scale pyramid.

One forward pass (``mask``: ``(B, N)``, 1 = hidden/predicted, 0 = visible context)::

    images -> context encoder on the visible tokens only           (B, K, D)
           -> predictor: context + a mask token per hidden cell     (B, M, D)
           -> online grid: context at visible cells, predictions at hidden cells (B, N, D)
           -> hierarchy (pooling-only or FPN)        -> predictions [(B, N_l, D)]
    images -> EMA target encoder on all tokens -> layer_norm (target_depths=k: the mean of
              its last k blocks, each layer-normed, as data2vec's targets)
           -> targets="pooled" (the tiny recipe): 2**l x 2**l means of those tokens
              targets="top_down": those means, each coarser level upsampled and added below
                (a parameter-free FPN: level 0 carries every coarser level's context)
              targets="head" (the schema default, the seed's design): an EMA copy of the hierarchy
           -> layer_norm -> targets                                  [(B, N_l, D)]

The loss compares predictions and targets on the cells of each level that lie wholly inside
the target region (``target_masks``). The target path has no trainable parameter and never
receives a gradient: its encoder (and, with ``targets="head"``, its hierarchy) is an
exponential moving average (EMA) of the online one. So with ``targets="pooled"`` the FPN
lives on the online path only: it shapes the predictions (and, through them, what the
encoder learns), while :meth:`HJEPA.extract_features` returns pooled EMA-encoder tokens for
pooling-only and FPN models alike; :meth:`HJEPA.online_levels` shows the FPN's own maps.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TARGETS, ModelConfig
from ..core.grid import gather_tokens
from .encoder import PatchEncoder
from .fpn import FeaturePyramid
from .predictor import Predictor
from .pyramid import mask_levels, top_down_sum

__all__ = ["HJEPA"]


class HJEPA(nn.Module):
    """The H-JEPA model. Build it with :func:`hjepa_lite.create_hjepa` (:mod:`.factory`).

    Attributes:
        context_encoder / predictor / hierarchy: the online, trained path.
        target_encoder / target_hierarchy: EMA copies (``requires_grad=False``, eval mode).
    """

    def __init__(
        self,
        encoder: PatchEncoder,
        predictor: Predictor,
        hierarchy: FeaturePyramid,
        targets: str = "head",
        normalize_online: bool = False,
        config: ModelConfig | None = None,
        target_depths: int = 1,
    ):
        super().__init__()
        if targets not in TARGETS:
            raise ValueError(f"model.targets={targets!r} is not supported; valid: {TARGETS}")
        if isinstance(target_depths, bool) or not 1 <= target_depths <= encoder.depth:
            raise ValueError(
                f"model.target_depths={target_depths!r} must be an int in 1..{encoder.depth} "
                f"(the encoder's depth): the targets average its last target_depths blocks"
            )
        self.context_encoder = encoder
        self.predictor = predictor
        self.hierarchy = hierarchy
        self.targets = targets
        self.target_depths = target_depths  # data2vec's targets: the mean of the last k blocks
        # True: the online grid is layer-normed (no affine) before the hierarchy, as the
        # target tokens are before the EMA hierarchy: both heads then see alike inputs.
        self.normalize_online = normalize_online
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False).eval()
        # "head": the targets go through an EMA copy of the hierarchy head; "pooled": they
        # are the pooled pyramid of the EMA encoder's tokens (no head, no parameter).
        self.target_hierarchy = (
            copy.deepcopy(hierarchy).requires_grad_(False).eval() if targets == "head" else None
        )
        self.config = config  # the ModelConfig it was built from (None when built by hand)

    @property
    def num_levels(self) -> int:
        return self.hierarchy.num_levels

    @property
    def grid_size(self) -> tuple[int, int]:
        return self.context_encoder.grid_size

    @property
    def num_patches(self) -> int:
        return self.context_encoder.num_patches

    @property
    def embed_dim(self) -> int:
        return self.context_encoder.embed_dim

    def train(self, mode: bool = True) -> HJEPA:
        """Like ``nn.Module.train``, but the EMA target path always stays in eval mode."""
        super().train(mode)
        self.target_encoder.eval()
        if self.target_hierarchy is not None:
            self.target_hierarchy.eval()
        return self

    # -- input checks --------------------------------------------------------------------

    def _check_images(self, images: torch.Tensor) -> None:
        size = self.context_encoder.img_size
        if (
            not torch.is_tensor(images)
            or images.ndim != 4
            or tuple(images.shape[1:])
            != (
                3,
                size,
                size,
            )
        ):
            shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise ValueError(f"images must have shape (B, 3, {size}, {size}); got {shape}")

    def _check_mask(self, mask: torch.Tensor, batch: int, name: str = "mask") -> torch.Tensor:
        """Validate a (B, N) 0/1 mask and return it as bool."""
        n = self.num_patches
        if not torch.is_tensor(mask) or tuple(mask.shape) != (batch, n):
            shape = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
            raise ValueError(
                f"{name} must have shape (B, N) = ({batch}, {n}) for the "
                f"{self.grid_size[0]}x{self.grid_size[1]} patch grid; got {shape}"
            )
        if mask.dtype != torch.bool:
            if mask.is_complex() or not ((mask == 0) | (mask == 1)).all():
                raise ValueError(
                    f"{name} must be bool, or an integer/float tensor holding only 0 and 1 "
                    f"(1 = hidden/predicted, 0 = visible context); got dtype {mask.dtype} "
                    "with other values"
                )
            mask = mask != 0
        return mask

    # -- forward -------------------------------------------------------------------------

    def forward(
        self,
        images: torch.Tensor,
        mask: torch.Tensor,
        return_all_levels: bool = True,
        target_mask: torch.Tensor | None = None,
    ) -> dict:
        """Predict the hidden tokens at every level.

        Args:
            images: ``(B, 3, H, W)``.
            mask: ``(B, N)``, 1/True = hidden (predicted), 0/False = visible context. Every
                sample must hide the same number of tokens, and at least one token must be
                visible and one hidden.
            return_all_levels: False -> only level 0 in each returned list.
            target_mask: optional ``(B, N)`` subset of ``mask``: the cells the loss is computed
                on (the multi-block sampler's target blocks). Default: all of ``mask``.

        Returns a dict with, per level l (finest first): ``predictions`` and ``targets``
        ``[(B, N_l, D)]``, ``target_masks`` ``[(B, N_l)]`` bool (cells wholly inside the
        target region: the only ones a loss may use), and ``grid_sizes`` ``[(h_l, w_l)]``;
        also ``context`` ``(B, K, D)`` (the context encoder's tokens, for a regularizer) and
        ``target_tokens`` ``(B, N, D)`` (the EMA encoder's layer-normed tokens).
        """
        self._check_images(images)
        batch = images.shape[0]
        mask = self._check_mask(mask, batch)
        target_mask = (
            mask if target_mask is None else self._check_mask(target_mask, batch, "target_mask")
        )
        if (target_mask & ~mask).any():
            raise ValueError("target_mask must be a subset of mask (a target cannot be visible)")
        num_hidden = mask.sum(dim=1)
        if (num_hidden != num_hidden[0]).any():
            raise ValueError(
                "mask must hide the same number of tokens in every sample (the context encoder "
                f"runs on a dense batch); got counts {num_hidden.tolist()}"
            )
        num_hidden = int(num_hidden[0])
        if not 0 < num_hidden < self.num_patches:
            raise ValueError(
                f"mask hides {num_hidden} of {self.num_patches} tokens: it needs at least one "
                "visible (0) and one hidden (1) token"
            )

        predictions, context = self._predict(images, mask, num_hidden)
        tokens = self.target_tokens(images)  # both run under no_grad
        targets = self.target_pyramid(tokens)
        target_masks = mask_levels(target_mask, self.hierarchy.geometry)
        sizes = list(self.hierarchy.level_sizes)
        if not return_all_levels:
            predictions, targets, target_masks, sizes = (
                x[:1] for x in (predictions, targets, target_masks, sizes)
            )
        return {
            "predictions": predictions,
            "targets": targets,
            "target_masks": target_masks,
            "grid_sizes": sizes,
            "context": context,
            "target_tokens": tokens,
        }

    def _predict(self, images: torch.Tensor, mask: torch.Tensor, num_hidden: int) -> tuple:
        """Online path: context encoder -> predictor -> online grid -> hierarchy. Returns the
        per-level predictions and the context encoder's tokens ``(B, K, D)``."""
        # Stable sort puts visible positions (0) first, then hidden ones, each ascending.
        order = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
        num_context = self.num_patches - num_hidden
        context_index, hidden_index = order[:, :num_context], order[:, num_context:]
        context = self.context_encoder(images, keep_index=context_index)
        predicted = self.predictor(context, context_index, hidden_index)
        # Undo the sort: the online grid has every cell back at its own position.
        grid = torch.cat([context, predicted], dim=1)
        inverse = torch.argsort(order, dim=1)
        return self._online_head(gather_tokens(grid, inverse)), context

    def _online_head(self, grid: torch.Tensor) -> list[torch.Tensor]:
        """The online hierarchy on a full grid ``(B, N, D)`` (layer-normed first with
        ``normalize_online``, as the targets are)."""
        if self.normalize_online:
            grid = F.layer_norm(grid, grid.shape[-1:])
        return self.hierarchy(grid)

    @torch.no_grad()
    def target_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """The EMA encoder's tokens of every patch, layer-normed (what enters the target
        hierarchy): ``(B, 3, H, W) -> (B, N, D)``. With ``target_depths = k > 1``, the mean
        of its last ``k`` blocks' tokens, each layer-normed first (data2vec's targets)."""
        self._check_images(images)
        if self.target_depths == 1:
            tokens = self.target_encoder(images)
        else:
            depths = self.target_encoder.intermediates(images)[-self.target_depths :]
            tokens = torch.stack([F.layer_norm(x, x.shape[-1:]) for x in depths]).mean(0)
        return F.layer_norm(tokens, tokens.shape[-1:])

    @torch.no_grad()
    def target_pyramid(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The target of every level, layer-normed: ``(B, N, D) -> [(B, N_l, D)]``. With
        ``targets="head"`` the EMA hierarchy on :meth:`target_tokens`; with ``"pooled"`` the
        parameter-free pyramid of those tokens (level l = 2**l x 2**l means); with
        ``"top_down"`` that pyramid through :func:`~hjepa_lite.model.pyramid.top_down_sum`."""
        if self.target_hierarchy is not None:
            levels = self.target_hierarchy(tokens)
        else:
            levels = self.hierarchy.pooled_levels(tokens)
            if self.targets == "top_down":
                levels = top_down_sum(levels, self.hierarchy.level_sizes)
        return [F.layer_norm(x, x.shape[-1:]) for x in levels]

    @torch.no_grad()
    def extract_features(self, images: torch.Tensor, level: int = 0) -> torch.Tensor:
        """Target-branch features of one level: ``(B, 3, H, W) -> (B, N_level, D)``."""
        if isinstance(level, bool) or not isinstance(level, int):
            raise ValueError(f"level must be an int in 0..{self.num_levels - 1}; got {level!r}")
        if not 0 <= level < self.num_levels:
            raise ValueError(
                f"level={level} is out of range: this model has {self.num_levels} levels "
                f"(valid: 0..{self.num_levels - 1})"
            )
        return self.target_levels(images)[level]

    def target_levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Target-branch features of every level in one pass: ``[(B, N_l, D)]``, finest first
        (what the loss regresses to, and what the probes of :mod:`hjepa_lite.evaluation.evaluate`
        read)."""
        return self.target_pyramid(self.target_tokens(images))

    @torch.no_grad()
    def online_levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The online hierarchy head on the context encoder's tokens of every patch (no
        mask): the per-level maps the trained head computes for whole images,
        ``(B, 3, H, W) -> [(B, N_l, D_l)]``. With ``targets="pooled"`` this is where the FPN
        shows; :meth:`extract_features` returns the pooled targets."""
        self._check_images(images)
        return self._online_head(self.context_encoder(images))

    # -- EMA -----------------------------------------------------------------------------

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA step (once per optimizer step, after it): ``target = m*target + (1-m)*online``."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum}")
        pairs = [(self.context_encoder, self.target_encoder)]
        if self.target_hierarchy is not None:
            pairs.append((self.hierarchy, self.target_hierarchy))
        for online, target in pairs:
            for p_online, p_target in zip(online.parameters(), target.parameters(), strict=True):
                p_target.lerp_(p_online.detach(), 1.0 - momentum)
