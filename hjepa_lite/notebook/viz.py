"""Pictures of tokens: patches, per-level feature maps (PCA -> RGB), pooling groups, masks.

Pure functions return arrays; the ``plot_*`` helpers only draw them with matplotlib.
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

__all__ = [
    "group_colors",
    "load_sample_photo",
    "patchify",
    "pca_rgb_levels",
    "plot_history",
    "plot_levels",
]


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(B, C, H, W) -> (B, N, C*p*p)``: non-overlapping patches, row-major."""
    return rearrange(images, "b c (h p) (w q) -> b (h w) (c p q)", p=patch_size, q=patch_size)


def load_sample_photo(size: int = 224) -> torch.Tensor:
    """A real photo that ships with matplotlib (Grace Hopper), ``(3, size, size)`` in [0, 1]."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = Image.open(f).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255


def _pca_basis(tokens: torch.Tensor, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    mean = tokens.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(tokens - mean, full_matrices=False)
    basis = v[:k].T  # (D, min(k, N, D)): fewer than k tokens have fewer components ...
    return mean, torch.nn.functional.pad(basis, (0, k - basis.shape[1]))  # ... zero-padded


def _to_unit(values: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> np.ndarray:
    return ((values - low) / (high - low).clamp_min(1e-8)).clamp(0, 1).numpy()


def pca_rgb_levels(levels: list[torch.Tensor], sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """PCA -> RGB for several levels of one image with ONE shared basis and colour scale, so
    the same colour means the same feature direction on every level. ``levels[l]``: (N_l, D)."""
    levels = [t.detach().float().cpu() for t in levels]
    mean, basis = _pca_basis(torch.cat(levels))
    projected = [(t - mean) @ basis for t in levels]
    everything = torch.cat(projected)
    low, high = everything.quantile(0.01, dim=0), everything.quantile(0.99, dim=0)
    return [
        _to_unit(p, low, high).reshape(h, w, -1) for p, (h, w) in zip(projected, sizes, strict=True)
    ]


def group_colors(groups: torch.Tensor, seed: int = 0) -> np.ndarray:
    """``(h, w)`` group ids -> ``(h, w, 3)`` image, one random colour per group."""
    rng = np.random.default_rng(seed)
    palette = rng.uniform(0.15, 1.0, size=(int(groups.max()) + 1, 3))
    return palette[groups.numpy()]


def plot_levels(images: list[np.ndarray], titles: list[str], axes=None, **imshow):
    """Draw one image per level side by side; returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(images), figsize=(3 * len(images), 3))
    for ax, image, title in zip(np.atleast_1d(axes), images, titles, strict=True):
        ax.imshow(image, interpolation="nearest", **imshow)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def plot_history(history: dict[str, list[float]], axes=None, label: str = "", smooth: int = 20):
    """Per-level losses and the collapse monitor of a training run: RankMe of each level's
    target tokens and of the encoder's (logged every few steps by the trainer).

    ``smooth``: running-mean window over steps (1 = raw); steps where a level had no valid
    target cell (NaN) are left out of its mean. Returns the two matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    levels = sorted(int(key.split("_")[1]) for key in history if key.startswith("loss_"))

    def running_mean(values):  # NaN (a step where the level had no valid cell) is skipped
        values = torch.tensor(values, dtype=torch.float64)
        window = max(1, min(smooth, len(values)))
        kernel = torch.ones(1, 1, window, dtype=torch.float64)
        measured = (~values.isnan()).double()
        sums, counts = (
            torch.nn.functional.conv1d(
                torch.cat([x[:1].repeat(window - 1), x]).view(1, 1, -1), kernel
            ).flatten()
            for x in (values.nan_to_num(0.0), measured)
        )
        return sums / counts  # NaN where the whole window had no measurement

    for level in levels:
        tag = f"{label} L{level}".strip()
        axes[0].plot(running_mean(history[f"loss_{level}"]), label=tag)
        if history.get("rank_step"):
            axes[1].plot(history["rank_step"], history[f"rank_{level}"], label=tag)
        else:  # a history from before the rank monitor: the per-level target std
            axes[1].plot(running_mean(history[f"std_{level}"]), label=tag)
    axes[0].set(title="loss per level (running mean)", xlabel="step", yscale="log")
    if history.get("rank_step"):
        steps, ranks = history["rank_step"], history["rank_encoder"]
        axes[1].plot(steps, ranks, "k--", label=f"{label} encoder".strip())
        axes[1].set(title="batch RankMe of the target tokens (1 = collapse)", xlabel="step")
    else:
        axes[1].set(title="target feature std across images (0 = collapse)", xlabel="step")
    axes[1].set_ylim(bottom=0)
    for ax in axes:
        ax.legend(fontsize=7)
    return axes
