"""Side-by-side comparison of hierarchy heads (pooling-only and FPN fusion methods).

:func:`compare_fusion` is the pure function behind notebook 04's widget: given one image
and the settings, it builds each variant on the *same* encoder, and measures per-level
feature maps (PCA -> RGB, per variant and level), exact parameter counts and the
forward time in this process: every variant is timed once per round, in turn, for
``repeats`` rounds, so each round gives a ratio to pooling-only under the same machine load;
the result keeps the median time, and the median ratio with its lowest and highest round.

Each map has its own PCA basis (per variant *and* level). A basis shared by the columns of a
level would need their features to live in one space, and they do not: every head ends in its
own output projection (random at init, trained separately otherwise), and each pre-trained
variant has its own encoder. Colours compare cells within one map, never across maps; the
spatial pattern (which cells look alike) is what compares across columns.

:func:`compare_pretrained` does the same for the shipped pre-trained models
(:mod:`hjepa_lite.shipped.pretrained`): each variant is then a whole trained model, its own encoder
and its trained head; :func:`pretrained_variant` finds the shipped config of a widget
setting.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..model.encoder import PatchEncoder
from ..model.fpn import FeaturePyramid, step_upsample
from ..model.fusion import fusion_class
from ..model.hjepa import HJEPA
from ..model.params import count_parameters, head_breakdown
from ..model.resample import upsampler_class
from ..shipped.pretrained import manifest
from .viz import pca_rgb_levels

__all__ = [
    "VariantResult",
    "compare_fusion",
    "compare_pretrained",
    "plot_comparison",
    "pretrained_variant",
]

POOLING_ONLY = "pooling-only"


@dataclass
class VariantResult:
    """One variant: ``maps[l]`` is an (h_l, w_l, 3) PCA image of level ``l`` (its own basis);
    ``forward_ms``: median forward time; ``ratio``: median over rounds of this variant's time
    over the first variant's in the same round, ``ratio_range`` its (lowest, highest) round,
    ``repeats`` the number of rounds."""

    name: str
    maps: list[np.ndarray]
    head_params: int
    fpn_params: int
    forward_ms: float
    sizes: list[tuple[int, int]] = field(default_factory=list)
    ratio: float = 1.0
    ratio_range: tuple[float, float] = (1.0, 1.0)
    repeats: int = 1


def _time_rounds(forwards: dict, repeats: int) -> dict[str, list[float]]:
    """``{name: [ms per round]}``: a warm-up of each, then ``repeats`` rounds that run every
    forward once, in turn (so a round's load is shared by all)."""
    for forward in forwards.values():
        forward()
    times = {name: [] for name in forwards}
    for _ in range(repeats):
        for name, forward in forwards.items():
            start = time.perf_counter()
            forward()
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def _timed(results: dict[str, VariantResult], times: dict[str, list[float]]) -> dict:
    """Fill in each result's median time and its paired ratio to the first variant."""
    base = times[next(iter(times))]
    for name, result in results.items():
        ratios = [mine / first for mine, first in zip(times[name], base, strict=True)]
        result.forward_ms = statistics.median(times[name])
        result.ratio = statistics.median(ratios)
        result.ratio_range = (min(ratios), max(ratios))
        result.repeats = len(ratios)
    return results


@torch.no_grad()
def compare_fusion(
    image: torch.Tensor,
    encoder: PatchEncoder,
    fusion_methods: tuple[str, ...] = ("add", "concat"),
    feature_dim: int | None = None,
    num_levels: int = 3,
    upsample: str = "bilinear",
    bottom_up: bool = False,
    batch_size: int = 32,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, VariantResult]:
    """Pooling-only and one FPN per fusion method, on the tokens of one image.

    Args:
        image: ``(3, H, W)`` normalised image at the encoder's size.
        encoder: the patch encoder whose tokens every variant pools.
        fusion_methods: FPN variants to build beside pooling-only.
        feature_dim / num_levels / upsample / bottom_up: the FPN settings (attention fusion
            resamples by itself, so ``upsample`` does not apply to its variant).
        batch_size / repeats: forward time of encoder + head on a batch of ``batch_size``
            copies of the image, every variant once per round, ``repeats`` rounds: median
            time, and median (lowest, highest) ratio to pooling-only over the rounds.
        seed: initial weights of the heads (the same seed for every variant).

    Returns ``{name: VariantResult}``, pooling-only first.
    """
    encoder.eval()
    tokens = encoder(image.unsqueeze(0))
    batch = image.unsqueeze(0).expand(batch_size, -1, -1, -1).contiguous()
    results, forwards = {}, {}
    for method in (None, *fusion_methods):
        step = upsample
        if method and fusion_class(method).resamples and upsampler_class(upsample).learned:
            step = "bilinear"  # unused by a fusion that resamples itself; a learned one is refused
        torch.manual_seed(seed)
        head = FeaturePyramid(
            encoder.embed_dim,
            encoder.grid_size,
            num_levels,
            use_fpn=method is not None,
            feature_dim=feature_dim,
            fusion_method=method or "add",
            upsample=step,
            bottom_up=bottom_up and method is not None,
        ).eval()
        levels = head(tokens)
        name = POOLING_ONLY if method is None else f"FPN {method}"
        forwards[name] = lambda head=head: head(encoder(batch))
        results[name] = _result(name, levels, head)
    return _timed(results, _time_rounds(forwards, repeats))


def pretrained_variant(
    method: str | None,
    upsample: str = "bilinear",
    bottom_up: bool = False,
    shipped: dict[str, dict] | None = None,
) -> str:
    """The shipped config whose head is this widget setting (``method`` None =
    pooling-only), among the final recipe's models (``model.targets: pooled``). Raises a
    ``ValueError`` listing the settings that have pre-trained weights."""
    shipped = manifest()["models"] if shipped is None else shipped
    settings = {}
    for name, entry in shipped.items():
        model = entry["config"]["model"]
        fpn = model["fpn"]
        if model["targets"] != "pooled" or fpn["feature_dim"] is not None:
            continue
        if not fpn["use_fpn"]:
            settings[None] = name
            continue
        resample = step_upsample(fpn["fusion_method"], fpn["upsample"])
        settings[(fpn["fusion_method"], resample, fpn["bottom_up"])] = name
    key = None
    if method is not None:
        resamples = fusion_class(method).resamples
        key = (method, None if resamples else upsample, bottom_up)
    if key not in settings:
        described = sorted(
            "pooling-only"
            if k is None
            else f"{k[0]} ({k[1] or 'own attention'}{', PANet' if k[2] else ''})"
            for k in settings
        )
        panet = " and the PANet path" if bottom_up else ""
        what = "pooling-only" if method is None else f"fusion {method!r} with {upsample!r}{panet}"
        raise ValueError(
            f"no pre-trained weights for {what}; pre-trained: {', '.join(described) or 'none'}. "
            "Choose 'random init' for other settings."
        )
    return settings[key]


@torch.no_grad()
def compare_pretrained(
    image: torch.Tensor, models: dict[str, HJEPA], batch_size: int = 32, repeats: int = 5
) -> dict[str, VariantResult]:
    """Like :func:`compare_fusion`, for whole trained models: ``{variant name: model}``.
    Each variant's maps are its trained head on its own encoder's tokens
    (:meth:`HJEPA.online_levels`), the image resized to the model's size; the time is
    encoder + head on a batch of ``batch_size`` copies, timed in rounds as there."""
    results, forwards = {}, {}
    for name, model in models.items():
        size = model.context_encoder.img_size
        resized = F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True)
        batch = resized.expand(batch_size, -1, -1, -1).contiguous()
        levels = model.eval().online_levels(resized)
        results[name] = _result(name, levels, model.hierarchy)
        forwards[name] = lambda model=model, batch=batch: model.online_levels(batch)
    return _timed(results, _time_rounds(forwards, repeats))


def _result(name, levels, head) -> VariantResult:
    return VariantResult(
        name=name,
        maps=[
            pca_rgb_levels([x[0]], [s])[0] for x, s in zip(levels, head.level_sizes, strict=True)
        ],
        head_params=count_parameters(head),
        fpn_params=head_breakdown(head)["fpn"],
        forward_ms=float("nan"),  # set by _timed
        sizes=list(head.level_sizes),
    )


def plot_comparison(results: dict[str, VariantResult], level: int, axes=None):
    """One column per variant: its level-``level`` map (its own PCA basis: colours compare
    cells within a map, not across maps), with parameters, the median time and the median
    ratio to the first column with its lowest-highest round in the title."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 4.0))
    for ax, result in zip(np.atleast_1d(axes), results.values(), strict=True):
        h, w = result.sizes[level]
        low, high = result.ratio_range
        ax.imshow(result.maps[level], interpolation="nearest")
        ax.set_title(
            f"{result.name}\nlevel {level} ({h}x{w})\n"
            f"head {result.head_params:,} params\n"
            f"{result.forward_ms:.1f} ms, {result.ratio:.2f}x\n"
            f"({low:.2f}-{high:.2f}x, {result.repeats} rounds)",
            fontsize=8,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    return axes
