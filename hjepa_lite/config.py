"""Model configuration: the seed's YAML schema, validated, and the two factory functions.

Schema (every key optional; unknown keys are rejected with the list of valid ones)::

    model:
      encoder_type: vit_base_patch16_224   # a timm ViT name (architecture only, no weights)
      img_size: 224
      patch_size: null        # null -> the named model's patch size
      embed_dim: 768          # must equal the named model's width (null -> that width)
      depth: null             # null -> the named model's depth
      num_heads: null         # null -> the named model's heads
      drop_path_rate: 0.0
      grad_checkpointing: false
      num_hierarchies: 3
      pooling: 2d             # 2d | 1d_seed (the seed's flattened pooling, for teaching)
      predictor:
        embed_dim: null       # null -> embed_dim // 2
        depth: 6
        num_heads: null       # null -> the encoder's heads
      fpn:
        use_fpn: false
        feature_dim: null     # null -> embed_dim
        fusion_method: add    # add | concat
        upsample: bilinear    # bilinear | nearest
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .encoder import PatchEncoder
from .fpn import FUSION_METHODS, UPSAMPLE_MODES, FeaturePyramid
from .hjepa import HJEPA
from .predictor import Predictor
from .pyramid import POOLING_MODES

__all__ = [
    "CONFIG_SECTIONS",
    "FPNConfig",
    "ModelConfig",
    "PredictorConfig",
    "create_hjepa",
    "create_hjepa_from_config",
    "load_config",
]

# Top-level sections of a config file, and who reads them.
CONFIG_SECTIONS = ("model",)

_CHOICES = {
    "pooling": POOLING_MODES,
    "fusion_method": FUSION_METHODS,
    "upsample": UPSAMPLE_MODES,
}


@dataclass
class FPNConfig:
    use_fpn: bool = False
    feature_dim: int | None = None
    fusion_method: str = "add"
    upsample: str = "bilinear"


@dataclass
class PredictorConfig:
    embed_dim: int | None = None
    depth: int = 6
    num_heads: int | None = None


@dataclass
class ModelConfig:
    encoder_type: str = "vit_base_patch16_224"
    img_size: int = 224
    patch_size: int | None = None
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    drop_path_rate: float = 0.0
    grad_checkpointing: bool = False
    num_hierarchies: int = 3
    pooling: str = "2d"
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    fpn: FPNConfig = field(default_factory=FPNConfig)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "model") -> ModelConfig:
        """Validate a ``model:`` mapping (e.g. from ``yaml.safe_load``)."""
        return _from_dict(cls, data, path)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _type_name(annotation: str) -> str:
    return annotation.replace(" | None", " or null")


def _check_value(path: str, value: Any, annotation: str) -> Any:
    """Check one leaf value against its annotation (as a string: ``int | None`` etc.)."""
    name = path.rsplit(".", 1)[-1]
    optional = annotation.endswith("| None")
    base = annotation.replace(" | None", "")
    if value is None:
        if optional:
            return None
        raise ValueError(f"config key '{path}' must be {_type_name(annotation)}, not null")
    if base == "bool":
        ok = isinstance(value, bool)
    elif base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ValueError(
            f"config key '{path}' must be {_type_name(annotation)}; got {value!r} "
            f"({type(value).__name__})"
        )
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(
            f"config key '{path}'={value!r} is invalid; valid choices: {_CHOICES[name]}"
        )
    if base == "int" and value <= 0:
        raise ValueError(f"config key '{path}' must be a positive integer; got {value}")
    return value


def _from_dict(cls: type, data: Mapping[str, Any], path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"config section '{path}' must be a mapping; got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown config key '{path}.{unknown[0]}'; valid keys under '{path}': {sorted(fields)}"
        )
    values = {}
    for name, value in data.items():
        annotation = fields[name].type
        key = f"{path}.{name}"
        if annotation in ("PredictorConfig", "FPNConfig"):
            values[name] = _from_dict(globals()[annotation], value or {}, key)
        else:
            values[name] = _check_value(key, value, annotation)
    return cls(**values)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (``yaml.safe_load``) and check its top-level sections."""
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    _check_sections(config)
    return config


def _check_sections(config: Mapping[str, Any]) -> None:
    if not isinstance(config, Mapping):
        raise ValueError(f"a config must be a mapping of sections; got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_SECTIONS))
    if unknown:
        raise ValueError(
            f"unknown config section '{unknown[0]}'; valid sections: {list(CONFIG_SECTIONS)}"
        )


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
    )
    predictor = Predictor(
        grid_size=encoder.grid_size,
        embed_dim=encoder.embed_dim,
        predictor_dim=predictor_dim,
        depth=cfg.predictor.depth,
        num_heads=predictor_heads,
    )
    model = HJEPA(encoder, predictor, hierarchy)
    model.config = cfg
    return model


def create_hjepa(
    encoder_type: str = "vit_base_patch16_224",
    img_size: int = 224,
    embed_dim: int | None = None,
    num_hierarchies: int = 3,
    use_fpn: bool = False,
    fpn_feature_dim: int | None = None,
    fpn_fusion_method: str = "add",
    *,
    patch_size: int | None = None,
    depth: int | None = None,
    num_heads: int | None = None,
    drop_path_rate: float = 0.0,
    grad_checkpointing: bool = False,
    pooling: str = "2d",
    fpn_upsample: str = "bilinear",
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
        },
    }
    return build_model(ModelConfig.from_dict(config))


def create_hjepa_from_config(config: Mapping[str, Any]) -> HJEPA:
    """Build an H-JEPA from a config dict with a ``model:`` section (the seed's YAML schema)."""
    _check_sections(config)
    if "model" not in config:
        raise ValueError("config has no 'model' section; see hjepa_lite.config for the schema")
    return build_model(ModelConfig.from_dict(config["model"]))
