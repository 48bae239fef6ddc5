"""The ViT patch encoder: a timm Vision Transformer that can encode only the visible tokens.

I-JEPA's context encoder sees only the context patches: masked patches are *dropped*
(gathered out by index) before the transformer blocks, never zeroed, so the encoder costs
what it sees. The target encoder runs the same module on all patches.

Built with timm, without weights, without a class token, and with a fixed 2-D sin-cos
position table (:func:`hjepa_lite.core.grid.sincos_pos_embed`) kept as a buffer, so nothing about
position is learned.
"""

from __future__ import annotations

import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..core.grid import gather_tokens, sincos_pos_embed

__all__ = ["PatchEncoder"]


class PatchEncoder(nn.Module):
    """``images (B, 3, H, W) -> tokens (B, N, D)``, or ``(B, K, D)`` for ``keep_index (B, K)``.

    Args:
        encoder_type: a timm ViT name, e.g. ``"vit_tiny_patch16_224"``; only its architecture
            is used (no pretrained weights).
        img_size: square image side in pixels; must be divisible by the patch size.
        patch_size / depth / num_heads: override the named model's values (None = keep).
        drop_path_rate: stochastic depth of the blocks.
        grad_checkpointing: recompute block activations in backward to save memory.
    """

    def __init__(
        self,
        encoder_type: str = "vit_tiny_patch16_224",
        img_size: int = 224,
        patch_size: int | None = None,
        depth: int | None = None,
        num_heads: int | None = None,
        drop_path_rate: float = 0.0,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        overrides = {"patch_size": patch_size, "depth": depth, "num_heads": num_heads}
        overrides = {key: value for key, value in overrides.items() if value is not None}
        if encoder_type not in timm.list_models("vit_*"):
            raise ValueError(
                f"encoder_type={encoder_type!r} is not a timm ViT; valid choices are the names "
                "in timm.list_models('vit_*'), e.g. 'vit_tiny_patch16_224', "
                "'vit_small_patch16_224', 'vit_base_patch16_224'"
            )
        try:
            self.vit = timm.create_model(
                encoder_type,
                pretrained=False,
                img_size=img_size,
                class_token=False,
                global_pool="",
                num_classes=0,
                pos_embed="none",
                drop_path_rate=drop_path_rate,
                **overrides,
            )
        except AssertionError as error:  # timm asserts that the heads divide the width
            raise ValueError(
                f"num_heads={num_heads} does not fit encoder_type={encoder_type!r}: {error} "
                "(vit_tiny: 192 wide, vit_small: 384, vit_base: 768)"
            ) from error
        if not isinstance(self.vit, VisionTransformer) or self.vit.num_prefix_tokens:
            raise ValueError(
                f"encoder_type={encoder_type!r} is not a plain timm VisionTransformer without "
                "prefix tokens; choose e.g. 'vit_tiny_patch16_224'"
            )
        patch = self.vit.patch_embed.patch_size[0]
        if img_size % patch:
            raise ValueError(
                f"img_size={img_size} is not divisible by the patch size {patch}; "
                f"use a multiple of {patch} (e.g. {img_size - img_size % patch or patch})"
            )
        self.encoder_type = encoder_type
        self.img_size = img_size
        self.patch_size = patch
        self.embed_dim = self.vit.embed_dim
        self.num_heads = self.vit.blocks[0].attn.num_heads
        self.grid_size = tuple(self.vit.patch_embed.grid_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.grad_checkpointing = grad_checkpointing
        self.register_buffer(
            "pos_embed", sincos_pos_embed(self.grid_size, self.embed_dim), persistent=False
        )

    @property
    def depth(self) -> int:
        return len(self.vit.blocks)

    def forward(self, images: torch.Tensor, keep_index: torch.Tensor | None = None) -> torch.Tensor:
        return self.intermediates(images, keep_index)[-1]

    def intermediates(
        self, images: torch.Tensor, keep_index: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """The tokens after every block, ``[(B, N, D)] * depth`` (``(B, K, D)`` with
        ``keep_index``), shallowest first; the last one through the final norm, as
        :meth:`forward` returns it."""
        tokens = self.vit.patch_embed(images) + self.pos_embed
        if keep_index is not None:
            tokens = gather_tokens(tokens, keep_index)
        tokens = self.vit.norm_pre(tokens)
        outputs = []
        for block in self.vit.blocks:
            if self.grad_checkpointing and torch.is_grad_enabled():
                tokens = checkpoint(block, tokens, use_reentrant=False)
            else:
                tokens = block(tokens)
            outputs.append(tokens)
        outputs[-1] = self.vit.norm(tokens)
        return outputs
