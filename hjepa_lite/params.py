"""Parameter counts: exact ones from the model, and the seed document's formula beside them.

The seed estimates the FPN's extra parameters as::

    add:    L * (D * F + F * F)
    concat: add + (L - 1) * (2 * F * F)

which counts L top-down layers where there are L - 1, and ignores biases and LayerNorms.
:func:`parameter_breakdown` counts what the model really has.
"""

from __future__ import annotations

from torch import nn

__all__ = ["count_parameters", "parameter_breakdown", "seed_fpn_formula"]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Exact counts per component of an :class:`~hjepa_lite.HJEPA`.

    Keys: ``context_encoder``, ``predictor``, and for the hierarchy ``lateral``,
    ``top_down``, ``upsample`` (learned upsampling), ``fuse``, ``bottom_up`` (PANet's path)
    and ``project`` (0 where absent); ``trainable`` (all online parameters), ``fpn`` (all of
    the hierarchy but ``project``: what FPN adds to pooling-only) and ``target_ema`` (the
    EMA copies: not trainable).
    """
    hierarchy = model.hierarchy
    parts = {
        "context_encoder": count_parameters(model.context_encoder),
        "predictor": count_parameters(model.predictor),
    }
    components = {
        "lateral": ["lateral"],
        "top_down": ["top_down"],
        "upsample": ["upsamplers"],
        "fuse": ["fuse"],
        "bottom_up": ["downsamplers", "bottom_up_smooth"],
        "project": ["project"],
    }
    for key, names in components.items():
        parts[key] = sum(
            count_parameters(getattr(hierarchy, n)) for n in names if hasattr(hierarchy, n)
        )
    parts["fpn"] = count_parameters(hierarchy) - parts["project"]
    parts["trainable"] = count_parameters(model, trainable_only=True)
    parts["target_ema"] = count_parameters(model.target_encoder) + count_parameters(
        model.target_hierarchy
    )
    return parts


def seed_fpn_formula(num_levels: int, embed_dim: int, feature_dim: int, fusion: str) -> int:
    """The seed's estimate of the parameters FPN adds (see the module docstring)."""
    add = num_levels * (embed_dim * feature_dim + feature_dim * feature_dim)
    if fusion == "add":
        return add
    return add + (num_levels - 1) * 2 * feature_dim * feature_dim
