"""The I-JEPA predictor: a narrow ViT that guesses the hidden tokens from the context.

Input: the context encoder's output at the visible positions. The predictor projects it to
its own (narrower) width, appends one shared learned *mask token* per hidden position (each
plus the sin-cos position of the patch it stands for), runs a few transformer blocks, and
returns its outputs at the hidden positions, projected back to the encoder width.
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block, init_weights_vit_timm
from torch import nn

from ..core.grid import gather_tokens, sincos_pos_embed

__all__ = ["Predictor"]


class Predictor(nn.Module):
    """``context (B, K, D), context_index (B, K), hidden_index (B, M) -> (B, M, D)``.

    Args:
        grid_size: (h, w) patch grid (for the position table).
        embed_dim: encoder width D.
        predictor_dim: the predictor's own width (I-JEPA uses a narrow one, about D/2).
        depth / num_heads: transformer blocks of the predictor.
    """

    def __init__(
        self,
        grid_size: tuple[int, int],
        embed_dim: int,
        predictor_dim: int,
        depth: int,
        num_heads: int,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(embed_dim, predictor_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, predictor_dim))
        self.blocks = nn.ModuleList(
            Block(predictor_dim, num_heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(predictor_dim)
        self.proj = nn.Linear(predictor_dim, embed_dim)
        self.register_buffer(
            "pos_embed", sincos_pos_embed(grid_size, predictor_dim), persistent=False
        )
        self.apply(init_weights_vit_timm)
        trunc_normal_(self.mask_token, std=0.02)

    def forward(
        self, context: torch.Tensor, context_index: torch.Tensor, hidden_index: torch.Tensor
    ) -> torch.Tensor:
        pos = self.pos_embed.expand(context.shape[0], -1, -1)
        context = self.embed(context) + gather_tokens(pos, context_index)
        queries = self.mask_token + gather_tokens(pos, hidden_index)
        tokens = torch.cat([context, queries], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.proj(self.norm(tokens[:, context.shape[1] :]))
