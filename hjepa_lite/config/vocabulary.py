"""The option vocabularies of the config schema, declared once, and the file's sections.

Each vocabulary is the key set of the registry that resolves it to code (tests/test_config.py
checks that they agree); the config imports none of those registries.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

__all__ = [
    "CONFIG_SECTIONS",
    "DEFAULT_POOLING",
    "DatasetName",
    "FusionMethod",
    "LossType",
    "Pooling",
    "Regularizer",
    "TARGETS",
    "Targets",
    "Upsample",
    "choices",
]

Pooling = Literal["2d", "1d_seed"]  # geometry.POOLINGS
DEFAULT_POOLING: Pooling = "2d"  # the one default of every pooling argument
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
