"""The config schema as dataclasses, one per section, and :func:`load_config`.

The keys, their defaults and their meaning are in :mod:`hjepa_lite.config`'s docstring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .checks import as_plain, check_sections, from_dict
from .vocabulary import (
    DEFAULT_POOLING,
    DatasetName,
    FusionMethod,
    LossType,
    Pooling,
    Regularizer,
    Targets,
    Upsample,
)
from .yaml_reader import as_read, read_yaml

__all__ = [
    "Config",
    "DataConfig",
    "FPNConfig",
    "LossConfig",
    "MaskConfig",
    "ModelConfig",
    "PredictorConfig",
    "TrainConfig",
    "load_config",
]


@dataclass
class FPNConfig:
    use_fpn: bool = False
    feature_dim: int | list[int] | None = None
    fusion_method: FusionMethod = "add"
    upsample: Upsample = "bilinear"
    bottom_up: bool = False


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
    pooling: Pooling = DEFAULT_POOLING
    targets: Targets = "head"
    target_depths: int = 1
    normalize_online: bool = False
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    fpn: FPNConfig = field(default_factory=FPNConfig)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "model") -> ModelConfig:
        """Validate a ``model:`` mapping (e.g. from ``yaml.safe_load``)."""
        return from_dict(cls, data, path)

    def to_dict(self) -> dict[str, Any]:
        return as_plain(self)


@dataclass
class DataConfig:
    dataset: DatasetName = "shapes"
    root: str = "data"
    download: bool = False
    augment: bool = True
    fresh_images: bool = False
    batch_size: int = 64
    num_workers: int = 0


@dataclass
class MaskConfig:
    num_targets: int = 4
    target_scale: tuple[float, float] = (0.15, 0.2)
    target_aspect: tuple[float, float] = (0.75, 1.5)
    context_scale: tuple[float, float] = (0.85, 1.0)
    min_context: int | None = None


@dataclass
class LossConfig:
    type: LossType = "smooth_l1"
    level_weights: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25])
    regularizer: Regularizer = "none"
    regularizer_weight: float = 1.0
    context_weight: float = 0.0


@dataclass
class TrainConfig:
    steps: int | None = 300
    epochs: int | None = None
    lr: float = 5e-4
    min_lr: float = 1e-6
    warmup_steps: int = 30
    weight_decay: tuple[float, float] = (0.04, 0.4)
    ema_momentum: tuple[float, float] = (0.996, 1.0)
    grad_clip: float | None = 1.0
    seed: int = 0
    checkpoint_every: int = 100


@dataclass
class Config:
    """A whole config file: every section validated, with cross-section checks."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    masks: MaskConfig = field(default_factory=MaskConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        check_sections(data)
        config = from_dict(cls, data, "config")
        levels = config.model.num_hierarchies
        if "level_weights" not in (data.get("loss") or {}):  # the default, for any depth
            config.loss.level_weights = [0.5**level for level in range(levels)]
        if len(config.loss.level_weights) != levels:
            raise ValueError(
                f"config key 'loss.level_weights' has {len(config.loss.level_weights)} values "
                f"but model.num_hierarchies={levels}: give one weight per level"
            )
        if sum(config.loss.level_weights) <= 0:
            raise ValueError(
                f"config key 'loss.level_weights'={config.loss.level_weights} must have a "
                "positive sum (every weight >= 0, at least one > 0)"
            )
        if config.train.min_lr > config.train.lr:
            raise ValueError(
                f"config key 'train.min_lr'={config.train.min_lr} must be <= "
                f"train.lr={config.train.lr} (the cosine decays from lr down to min_lr)"
            )
        if config.train.steps is None and config.train.epochs is None:
            raise ValueError("config section 'train' needs 'steps' or 'epochs'")
        return config

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | str | os.PathLike) -> Config:
        """A YAML path, a mapping or a Config -> a validated Config. A Config object is
        checked again (it may have been edited after loading, as the CLI's ``--steps``)."""
        if isinstance(config, str | os.PathLike):
            return cls.from_yaml(config)
        if not isinstance(config, Config):
            return cls.from_dict(config)
        cls.from_dict(config.to_dict())
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> Config:
        return cls.from_dict(load_config(path))

    def to_dict(self) -> dict[str, Any]:
        return as_plain(self)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config and check it against the schema; return it as a plain dict.

    ``path`` is a YAML file, or the name of a config that ships with the package: a string
    without a folder or suffix, ``load_config("tiny_fpn_add")`` (the repository's
    ``configs/tiny_fpn_add.yaml``, installed as ``hjepa_lite.configs``), in a clone or not.
    The dict is what ``yaml.safe_load`` reads, except that ``5e-4`` and ``1e3`` are numbers
    (YAML 1.2). Raises ValueError naming the key of a bad value (the checks of
    :meth:`Config.from_dict`), or, for text that is not YAML (or not UTF-8, or a key given
    twice in one mapping), naming the file, line and column.
    """
    if isinstance(path, str) and path == Path(path).stem:
        shipped = resources.files("hjepa_lite.configs")
        names = sorted(p.name[:-5] for p in shipped.iterdir() if p.name.endswith(".yaml"))
        if path not in names:
            raise FileNotFoundError(
                f"no shipped config named {path!r}; the shipped configs are {names} "
                "(or give the path of a YAML file)"
            )
        data, name = (shipped / f"{path}.yaml").read_bytes(), f"{path}.yaml"
    else:
        data, name = Path(path).read_bytes(), str(path)
    raw = read_yaml(data, name)
    config = {} if raw is None else raw
    parsed = Config.from_dict(config).to_dict()
    return as_read(config, parsed)
