"""Configuration: the seed's YAML schema and its validation (the model factory is in hjepa.py).

Every key is optional (the defaults are shown); an unknown key or section is rejected with
the list of valid ones, and every key is read by the code. :func:`load_config` checks a file
against the schema when it reads it. It reads numbers as YAML 1.2 does: ``5e-4`` and ``1e3``
(strings to PyYAML, which follows YAML 1.1) are numbers, ``1e3`` an integer where the schema
wants one; a key given twice in one mapping is an error. Schema::

    model:
      encoder_type: vit_base_patch16_224   # a timm ViT name (architecture only, no weights)
      img_size: 224
      patch_size: null        # null -> the named model's patch size
      embed_dim: null         # must equal the named model's width (null -> that width)
      depth: null             # null -> the named model's depth
      num_heads: null         # null -> the named model's heads
      drop_path_rate: 0.0
      grad_checkpointing: false
      num_hierarchies: 3
      pooling: 2d             # 2d | 1d_seed (the seed's flattened pooling, for teaching)
      targets: head           # head: EMA copy of the hierarchy on the target path
                              # pooled: parameter-free targets, the pooled EMA encoder tokens
                              # top_down: pooled, then each coarser level added (upsampled) below
      target_depths: 1        # the targets' tokens: the mean of the EMA encoder's last k blocks,
                              # each layer-normed (data2vec's targets); 1 -> the last block only
      normalize_online: false # layer-norm the online grid before the head, as the targets are
      predictor:
        embed_dim: null       # null -> embed_dim // 2
        depth: 6
        num_heads: null       # null -> the encoder's heads
      fpn:
        use_fpn: false
        feature_dim: null     # int, one int per level (finest first), or null -> embed_dim
        fusion_method: add    # add | concat | attention (fine tokens cross-attend to coarse)
        upsample: bilinear    # bilinear | nearest | transposed_conv (learned 2x2, stride 2)
        bottom_up: false      # PANet: a bottom-up path after the top-down one
    data:
      dataset: shapes         # shapes | cifar10 | stl10 | imagefolder | photo_crops | photo_objects
      root: data              # where real data sets live (relative to the working directory)
      download: false         # let torchvision download cifar10 / stl10 (needs internet)
      augment: true           # I-JEPA's RandomResizedCrop (scale 0.3-1.0) on training images
      fresh_images: false     # shapes only: render new training images every epoch
      batch_size: 64          # per process
      num_workers: 0
    masks:                    # I-JEPA multi-block masks (fractions of the patch grid)
      num_targets: 4
      target_scale: [0.15, 0.2]
      target_aspect: [0.75, 1.5]
      context_scale: [0.85, 1.0]
      min_context: null       # null -> the sampler's default for the grid
    loss:
      type: smooth_l1         # smooth_l1 | mse
      level_weights: [1.0, 0.5, 0.25]   # one per level, finest first (default: 0.5**l)
      regularizer: none       # none | vicreg | sigreg: anti-collapse term on the context tokens
      regularizer_weight: 1.0 # its weight in the total loss (>= 0)
      context_weight: 0.0     # V-JEPA 2.1's loss on visible cells too, weighted 1/sqrt(distance
                              # to the mask) (>= 0; 0 = I-JEPA: hidden cells only)
    train:
      steps: 300              # optimizer steps (or set epochs instead)
      epochs: null            # epochs over the data set; overrides steps when set
      lr: 0.0005              # peak learning rate, after warmup
      min_lr: 1.0e-06         # end of the cosine decay
      warmup_steps: 30
      weight_decay: [0.04, 0.4]     # cosine from the first to the second value
      ema_momentum: [0.996, 1.0]    # linear from the first to the second value
      grad_clip: 1.0          # max gradient norm (null = off)
      seed: 0
      checkpoint_every: 100   # steps between checkpoints (the last step is always saved)
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml
from yaml.reader import ReaderError

__all__ = [
    "CONFIG_SECTIONS",
    "Config",
    "ConfigLoader",
    "DataConfig",
    "DatasetName",
    "FPNConfig",
    "FusionMethod",
    "LossConfig",
    "LossType",
    "MaskConfig",
    "ModelConfig",
    "Pooling",
    "PredictorConfig",
    "Regularizer",
    "TARGETS",
    "Targets",
    "TrainConfig",
    "Upsample",
    "check_sections",
    "choices",
    "load_config",
]

# The option vocabularies, declared once. Each is the key set of the registry that resolves
# it to code (tests/test_config.py checks that they agree): this module imports none of them.
Pooling = Literal["2d", "1d_seed"]  # pyramid.POOLINGS
Targets = Literal["head", "pooled", "top_down"]  # read by hjepa.HJEPA
FusionMethod = Literal["add", "concat", "attention"]  # fusion.FUSIONS
Upsample = Literal["bilinear", "nearest", "transposed_conv"]  # resample.UPSAMPLERS
DatasetName = Literal[
    "shapes", "cifar10", "stl10", "imagefolder", "photo_crops", "photo_objects"
]  # datasets.DATASETS
LossType = Literal["smooth_l1", "mse"]  # loss.LOSS_TYPES
Regularizer = Literal["none", "vicreg", "sigreg"]  # regularizers.REGULARIZERS


def choices(vocabulary: Any) -> tuple[str, ...]:
    """The valid values of one of the vocabularies above: ``choices(FusionMethod)``."""
    return get_args(vocabulary)


# What the target path computes (model.targets): an EMA copy of the head, the pooled EMA
# encoder tokens, or those with a parameter-free top-down pathway.
TARGETS = choices(Targets)

# Top-level sections of a config file.
CONFIG_SECTIONS = ("model", "data", "masks", "loss", "train")

_MAY_BE_ZERO = ("seed", "num_workers", "warmup_steps")


@dataclass(frozen=True)
class Range:
    """An interval of allowed numbers: ``[low, high]``, either end open on request."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return math.isfinite(value) and above and below

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


# Allowed values of the numeric keys (every value of a list or [low, high] key), checked at
# load: a run must not fail after it has written checkpoints. Integers are positive unless
# listed in _MAY_BE_ZERO; every number must be finite.
_RANGES = {
    "model.drop_path_rate": Range(0, 1, high_open=True),
    "masks.target_scale": Range(0, 1, low_open=True),
    "masks.target_aspect": Range(0, low_open=True),
    "masks.context_scale": Range(0, 1, low_open=True),
    "loss.level_weights": Range(0),
    "loss.regularizer_weight": Range(0),
    "loss.context_weight": Range(0),
    "train.lr": Range(0, low_open=True),
    "train.min_lr": Range(0),
    "train.weight_decay": Range(0),
    "train.ema_momentum": Range(0, 1),
    "train.grad_clip": Range(0, low_open=True),
}


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
    pooling: Pooling = "2d"
    targets: Targets = "head"
    target_depths: int = 1
    normalize_online: bool = False
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    fpn: FPNConfig = field(default_factory=FPNConfig)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "model") -> ModelConfig:
        """Validate a ``model:`` mapping (e.g. from ``yaml.safe_load``)."""
        return _from_dict(cls, data, path)

    def to_dict(self) -> dict[str, Any]:
        return _as_plain(self)


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
        config = _from_dict(cls, data, "config")
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
    def from_yaml(cls, path: str | Path) -> Config:
        return cls.from_dict(load_config(path))

    def to_dict(self) -> dict[str, Any]:
        return _as_plain(self)


def _as_plain(obj: Any) -> dict[str, Any]:
    """dataclass -> plain dict of YAML types (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(obj))


_PER_LEVEL = (int, list[int])  # fpn.feature_dim: one int, or one int per level


def _parts(annotation: Any) -> tuple[Any, bool]:
    """``(annotation without None, whether None is allowed)``; ``int | list[int]`` stays a
    union (as the tuple of its members)."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = tuple(a for a in get_args(annotation) if a is not type(None))
        optional = len(members) < len(get_args(annotation))
        return (members[0] if len(members) == 1 else members), optional
    return annotation, False


def _type_name(annotation: Any) -> str:
    base, optional = _parts(annotation)
    if base == _PER_LEVEL:
        name = "an int or a list of ints, one per level"
    elif get_origin(base) is Literal:
        name = "str"
    else:
        name = getattr(base, "__name__", str(base))
    return f"{name} or null" if optional else name


def _check_value(path: str, value: Any, annotation: Any) -> Any:
    """Check one leaf value against its annotation (``int | None``, a ``Literal``, etc.)."""
    name = path.rsplit(".", 1)[-1]
    base, optional = _parts(annotation)
    if value is None:
        if optional:
            return None
        raise ValueError(f"config key '{path}' must be {_type_name(annotation)}, not null")
    if base == _PER_LEVEL:  # one int, or one int per level
        if isinstance(value, list) and value:
            return [_check_value(f"{path}[{i}]", v, int) for i, v in enumerate(value)]
        base = int
    if get_origin(base) in (tuple, list):
        return _check_sequence(path, value, is_range=get_origin(base) is tuple)
    valid = get_args(base) if get_origin(base) is Literal else None
    kind = str if valid else base
    if isinstance(value, _Exponent):  # 1e3 in a YAML file: a number, or text where one is
        if kind is str:
            value = value.text
        elif kind is int and value.is_integer():
            value = int(value)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = _to_float(path, value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        hint = ""
        if kind in (int, float) and isinstance(value, str) and _is_number(value):
            hint = ": a string; write the number without quotes"
        found = "float" if isinstance(value, float) else type(value).__name__
        raise ValueError(
            f"config key '{path}' must be {_type_name(annotation)}; got {value!r} ({found}{hint})"
        )
    if valid and value not in valid:
        raise ValueError(f"config key '{path}'={value!r} is invalid; valid choices: {valid}")
    if kind is int and value < (0 if name in _MAY_BE_ZERO else 1):
        least = "a non-negative" if name in _MAY_BE_ZERO else "a positive"
        raise ValueError(f"config key '{path}' must be {least} integer; got {value}")
    _check_in_range(path, value)
    return value


def _check_in_range(path: str, *values: float) -> None:
    allowed = _RANGES.get(path)
    for value in values:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"config key '{path}' must be a finite number; got {value}")
        if allowed is not None and value not in allowed:
            raise ValueError(f"config key '{path}'={value!r} is out of range: allowed {allowed}")


def _check_sequence(path: str, value: Any, is_range: bool) -> tuple | list:
    """``tuple[float, float]`` (``is_range``) = an ordered (low, high) range; ``list[float]`` =
    any length."""
    wanted = "a list [low, high] of two numbers" if is_range else "a list of numbers"
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )
    if not ok or (is_range and (len(value) != 2 or value[0] > value[1])) or not value:
        raise ValueError(f"config key '{path}' must be {wanted}; got {value!r}")
    values = [_to_float(path, v) for v in value]
    _check_in_range(path, *values)
    return tuple(values) if is_range else values


def _to_float(path: str, value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"config key '{path}' must be a finite number; got {value}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_dict(cls: type, data: Mapping[str, Any], path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"config section '{path}' must be a mapping; got {type(data).__name__}")
    fields = _schema(cls)
    unknown = sorted(set(data) - set(fields), key=repr)  # YAML keys may be of any type
    if unknown:
        raise ValueError(
            f"unknown config key '{path}.{unknown[0]}'; valid keys under '{path}': {sorted(fields)}"
        )
    values = {}
    for name, value in data.items():
        annotation = fields[name]
        key = name if path == "config" else f"{path}.{name}"
        if dataclasses.is_dataclass(annotation):  # a nested section
            section = {} if value is None else value  # "model:" alone: all defaults
            values[name] = _from_dict(annotation, section, key)
        else:
            values[name] = _check_value(key, value, annotation)
    return cls(**values)


@functools.cache
def _schema(cls: type) -> dict[str, Any]:
    """``{field: its annotation as a type}`` of a config dataclass (resolved once)."""
    return get_type_hints(cls)


class _Exponent(float):
    """A YAML number in exponent notation without a dot (``5e-4``, ``1e3``), which YAML 1.1
    reads as a string; keeps its text for a key whose value is text."""

    def __new__(cls, text: str) -> _Exponent:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus YAML 1.2's exponent numbers and an error on a duplicate key.

    Any error while reading is a :class:`yaml.YAMLError` with the line and column of the
    text (PyYAML raises a bare ValueError for ``!!float abc``, an IndexError for an empty
    ``!!int``, an AttributeError for a bad ``!!timestamp``).
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # <<: overrides on purpose
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # unhashable: SafeLoader says so below
                    continue
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        first.start_mark,
                        f"found duplicate key {key!r} (a key must appear once in a mapping)",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.tag} {node.value!r}: {error}", node.start_mark
            ) from None


_EXPONENT_TAG = "tag:hjepa-lite,2025:exponent"
ConfigLoader.add_implicit_resolver(
    _EXPONENT_TAG,
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
ConfigLoader.add_constructor(_EXPONENT_TAG, lambda loader, node: _Exponent(node.value))


def _read_yaml(data: bytes, name: str) -> Any:
    """``yaml.safe_load`` with :class:`ConfigLoader`; errors become ValueErrors naming ``name``."""
    stream = io.BytesIO(data)
    stream.name = name  # shown in the error's line/column marks
    loader = None
    try:
        loader = ConfigLoader(stream)  # reads the first bytes: may raise already
        return loader.get_single_data()
    except RecursionError:
        error = yaml.YAMLError("nested too deeply")
        raise ValueError(f"config {name} is not valid YAML: {error}") from error
    except yaml.YAMLError as error:
        text = " (a config file must be UTF-8 text)" if isinstance(error, ReaderError) else ""
        raise ValueError(f"config {name} is not valid YAML{text}: {error}") from error
    finally:
        if loader is not None:
            loader.dispose()


def _as_read(raw: Any, parsed: Any) -> Any:
    """``raw`` with each exponent number replaced by the value the schema read (``parsed``)."""
    if isinstance(raw, _Exponent):
        return parsed
    if isinstance(raw, dict):
        return {key: _as_read(value, parsed[key]) for key, value in raw.items()}
    if isinstance(raw, list):
        return [_as_read(value, read) for value, read in zip(raw, parsed, strict=True)]
    return raw


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
    raw = _read_yaml(data, name)
    config = {} if raw is None else raw
    parsed = Config.from_dict(config).to_dict()
    return _as_read(config, parsed)


def check_sections(config: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``config`` is a mapping of known sections."""
    if not isinstance(config, Mapping):
        raise ValueError(
            f"a config must be a mapping of sections {list(CONFIG_SECTIONS)}; "
            f"got {type(config).__name__}"
        )
    unknown = sorted(set(config) - set(CONFIG_SECTIONS), key=repr)
    if unknown:
        raise ValueError(
            f"unknown config section '{unknown[0]}'; valid sections: {list(CONFIG_SECTIONS)}"
        )
