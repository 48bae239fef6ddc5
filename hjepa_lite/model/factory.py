"""Building an H-JEPA: from a validated :class:`~hjepa_lite.config.ModelConfig`
(:func:`build_model`), from the seed's keyword signature (:func:`create_hjepa`) or from a
config dict with a ``model:`` section (:func:`create_hjepa_from_config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import DEFAULT_POOLING, ModelConfig, Pooling, check_sections
from .encoder import PatchEncoder
from .fpn import FeaturePyramid
from .hjepa import HJEPA
from .predictor import Predictor

__all__ = ["build_model", "create_hjepa", "create_hjepa_from_config"]


def build_model(cfg: ModelConfig) -> HJEPA:
    """Build an :class:`HJEPA` from a validated :class:`ModelConfig`."""
    encoder = PatchEncoder(
        encoder_type=cfg.encoder_type,
        img_size=cfg.img_size,
        patch_size=cfg.patch_size,
        depth=cfg.depth,
        num_heads=cfg.num_heads,
        drop_path_rate=cfg.drop_path_rate,
        grad_checkpointing=cfg.grad_checkpointing,
    )
    if cfg.embed_dim is not None and cfg.embed_dim != encoder.embed_dim:
        raise ValueError(
            f"embed_dim={cfg.embed_dim} disagrees with encoder_type={cfg.encoder_type!r}, whose "
            f"width is {encoder.embed_dim}; set embed_dim to {encoder.embed_dim} (or null), or "
            "choose an encoder of that width (e.g. vit_tiny: 192, vit_small: 384, vit_base: 768)"
        )
    predictor_dim = cfg.predictor.embed_dim or encoder.embed_dim // 2
    predictor_heads = cfg.predictor.num_heads or encoder.num_heads
    if predictor_dim % 4:
        raise ValueError(
            f"predictor.embed_dim={predictor_dim} must be a multiple of 4 (its 2-D sin-cos "
            "position table splits the width into 4 parts: sin and cos of rows and columns)"
        )
    if predictor_dim % predictor_heads:
        raise ValueError(
            f"predictor.embed_dim={predictor_dim} is not divisible by predictor.num_heads="
            f"{predictor_heads}"
        )
    hierarchy = FeaturePyramid(
        embed_dim=encoder.embed_dim,
        grid_size=encoder.grid_size,
        num_levels=cfg.num_hierarchies,
        use_fpn=cfg.fpn.use_fpn,
        feature_dim=cfg.fpn.feature_dim,
        fusion_method=cfg.fpn.fusion_method,
        upsample=cfg.fpn.upsample,
        pooling=cfg.pooling,
        bottom_up=cfg.fpn.bottom_up,
    )
    predictor = Predictor(
        grid_size=encoder.grid_size,
        embed_dim=encoder.embed_dim,
        predictor_dim=predictor_dim,
        depth=cfg.predictor.depth,
        num_heads=predictor_heads,
    )
    return HJEPA(
        encoder,
        predictor,
        hierarchy,
        targets=cfg.targets,
        normalize_online=cfg.normalize_online,
        config=cfg,
        target_depths=cfg.target_depths,
    )


def create_hjepa(
    encoder_type: str = "vit_base_patch16_224",
    img_size: int = 224,
    embed_dim: int | None = None,
    num_hierarchies: int = 3,
    use_fpn: bool = False,
    fpn_feature_dim: int | list[int] | None = None,
    fpn_fusion_method: str = "add",
    *,
    patch_size: int | None = None,
    depth: int | None = None,
    num_heads: int | None = None,
    drop_path_rate: float = 0.0,
    grad_checkpointing: bool = False,
    pooling: Pooling = DEFAULT_POOLING,
    targets: str = "head",
    target_depths: int = 1,
    normalize_online: bool = False,
    fpn_upsample: str = "bilinear",
    fpn_bottom_up: bool = False,
    predictor_embed_dim: int | None = None,
    predictor_depth: int = 6,
    predictor_num_heads: int | None = None,
) -> HJEPA:
    """Build an H-JEPA (the seed's signature first, then options for small models).

    >>> model = create_hjepa("vit_tiny_patch16_224", img_size=64, patch_size=8, depth=2,
    ...                      use_fpn=True, fpn_fusion_method="concat", predictor_depth=1)
    >>> model.grid_size, model.num_levels
    ((8, 8), 3)
    """
    config = {
        "encoder_type": encoder_type,
        "img_size": img_size,
        "patch_size": patch_size,
        "embed_dim": embed_dim,
        "depth": depth,
        "num_heads": num_heads,
        "drop_path_rate": drop_path_rate,
        "grad_checkpointing": grad_checkpointing,
        "num_hierarchies": num_hierarchies,
        "pooling": pooling,
        "targets": targets,
        "target_depths": target_depths,
        "normalize_online": normalize_online,
        "predictor": {
            "embed_dim": predictor_embed_dim,
            "depth": predictor_depth,
            "num_heads": predictor_num_heads,
        },
        "fpn": {
            "use_fpn": use_fpn,
            "feature_dim": fpn_feature_dim,
            "fusion_method": fpn_fusion_method,
            "upsample": fpn_upsample,
            "bottom_up": fpn_bottom_up,
        },
    }
    return build_model(ModelConfig.from_dict(config))


def create_hjepa_from_config(config: Mapping[str, Any]) -> HJEPA:
    """Build an H-JEPA from a config dict with a ``model:`` section (the seed's YAML schema)."""
    check_sections(config)
    if "model" not in config:
        raise ValueError("config has no 'model' section; see hjepa_lite.config for the schema")
    return build_model(ModelConfig.from_dict(config["model"]))
