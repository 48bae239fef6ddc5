"""Parameter counts: exact ones from the model, and the seed document's formula beside them.

The seed estimates the FPN's extra parameters as::

    add:    L * (D * F + F * F)
    concat: add + (L - 1) * (2 * F * F)

which counts L top-down layers where there are L - 1, and ignores biases and LayerNorms.
:func:`parameter_breakdown` counts what the model really has.
"""

from __future__ import annotations

from torch import nn

from .bottom_up import BottomUpPath
from .fpn import LateralConnection, OutputProjection
from .fusion import Fusion
from .resample import Upsampler
from .top_down import TopDownLayer

__all__ = ["count_parameters", "head_breakdown", "parameter_breakdown", "seed_fpn_formula"]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# Parts of a FeaturePyramid, by the module type that makes them (absent parts count 0).
_HEAD_PARTS = {
    "lateral": LateralConnection,
    "top_down": TopDownLayer,
    "upsample": Upsampler,
    "fuse": Fusion,
    "bottom_up": BottomUpPath,
    "project": OutputProjection,
}


def head_breakdown(hierarchy: nn.Module) -> dict[str, int]:
    """Exact counts per part of a :class:`~hjepa_lite.FeaturePyramid`: ``lateral``,
    ``top_down``, ``upsample`` (learned upsampling), ``fuse``, ``bottom_up`` (PANet's path),
    ``project`` (0 where absent), and ``fpn`` (all but ``project``: what FPN adds to
    pooling-only)."""
    parts = {
        key: sum(count_parameters(m) for m in hierarchy.modules() if isinstance(m, kind))
        for key, kind in _HEAD_PARTS.items()
    }
    parts["fpn"] = count_parameters(hierarchy) - parts["project"]
    return parts


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Exact counts per component of an :class:`~hjepa_lite.HJEPA`.

    Keys: ``context_encoder``, ``predictor``, the hierarchy's parts (:func:`head_breakdown`),
    ``trainable`` (all online parameters) and ``target_ema`` (the EMA copies: not trainable;
    the encoder only with ``targets="pooled"``).
    """
    target_head = model.target_hierarchy
    return {
        "context_encoder": count_parameters(model.context_encoder),
        "predictor": count_parameters(model.predictor),
        **head_breakdown(model.hierarchy),
        "trainable": count_parameters(model, trainable_only=True),
        "target_ema": count_parameters(model.target_encoder)
        + (count_parameters(target_head) if target_head is not None else 0),
    }


def seed_fpn_formula(num_levels: int, embed_dim: int, feature_dim: int, fusion: str) -> int:
    """The seed's estimate of the parameters FPN adds (see the module docstring)."""
    add = num_levels * (embed_dim * feature_dim + feature_dim * feature_dim)
    if fusion == "add":
        return add
    return add + (num_levels - 1) * 2 * feature_dim * feature_dim
