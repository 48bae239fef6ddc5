"""Frozen-feature evaluation per pyramid level: kNN, linear probe, collapse diagnostics.

Features of an image at level ``l`` = the mean over the level's cells of the target
branch's tokens (:meth:`HJEPA.target_levels`); with ``source="encoder"``, the mean of the
EMA encoder's tokens before the hierarchy head (:meth:`HJEPA.target_tokens`), as one
level. Every accuracy comes with the numbers that make it mean something: the same
architecture at random init, and raw pixels.

    >>> train, test = dataset_features(model, train_set), dataset_features(model, test_set)
    >>> rows = probe_levels(train, test, name="FPN add")   # kNN + linear probe per level
    >>> print(format_probe_table(rows, group_names=SIZES))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

FEATURE_SOURCES = ("levels", "encoder")

__all__ = [
    "FEATURE_SOURCES",
    "LevelFeatures",
    "ProbeRow",
    "format_probe_table",
    "probe_levels",
    "probe_model",
    "accuracy_by_group",
    "dataset_features",
    "knn_predict",
    "linear_probe_predict",
    "pixel_features",
    "rankme",
]


@dataclass
class LevelFeatures:
    """``levels[l]``: (n, D) mean-pooled level-l features; ``labels`` (n,); ``groups`` (n,)
    an optional second label (e.g. the Shapes size bucket), else None."""

    levels: list[torch.Tensor]
    labels: torch.Tensor
    groups: torch.Tensor | None


def _loader(dataset: Dataset, batch_size: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)


@torch.no_grad()
def dataset_features(
    model, dataset: Dataset, batch_size: int = 256, source: str = "levels"
) -> LevelFeatures:
    """Mean-pooled target-branch features of a whole data set: ``source="levels"`` -> one
    entry per pyramid level; ``"encoder"`` -> one entry, the encoder's tokens before the
    hierarchy head."""
    if source not in FEATURE_SOURCES:
        raise ValueError(f"source={source!r} is not supported; valid choices: {FEATURE_SOURCES}")
    encode = model.target_levels if source == "levels" else lambda x: [model.target_tokens(x)]
    model.eval()
    device = next(model.parameters()).device
    batches, labels = [], []  # batches[i][l]: (batch, D) features of level l
    for images, y in _loader(dataset, batch_size):
        batches.append([x.mean(1).cpu() for x in encode(images.to(device))])
        labels.append(torch.as_tensor(y))
    return LevelFeatures(
        [torch.cat(x) for x in zip(*batches, strict=True)],
        torch.cat(labels),
        getattr(dataset, "sizes", None),
    )


@torch.no_grad()
def pixel_features(dataset: Dataset, batch_size: int = 256, size: int = 16) -> LevelFeatures:
    """The raw-pixel baseline: each image resized to ``size x size``, flattened."""
    feats, labels = [], []
    for images, y in _loader(dataset, batch_size):
        feats.append(F.adaptive_avg_pool2d(images, size).flatten(1))
        labels.append(torch.as_tensor(y))
    return LevelFeatures([torch.cat(feats)], torch.cat(labels), getattr(dataset, "sizes", None))


def knn_predict(
    train: torch.Tensor, train_y: torch.Tensor, test: torch.Tensor, k: int = 20, t: float = 0.07
) -> torch.Tensor:
    """Cosine kNN with similarity-weighted votes (``exp(sim / t)``, as in DINO/I-JEPA)."""
    train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    num_classes = int(train_y.max()) + 1
    votes = torch.zeros(len(test), num_classes)
    for start in range(0, len(test), 1024):
        sim, idx = (test[start : start + 1024] @ train.T).topk(k, dim=1)
        weights = (sim / t).exp()
        votes[start : start + 1024].scatter_add_(1, train_y[idx], weights)
    return votes.argmax(1)


def linear_probe_predict(
    train: torch.Tensor, train_y: torch.Tensor, test: torch.Tensor, ridge: float = 1e-2
) -> torch.Tensor:
    """Closed-form linear probe: ridge regression onto one-hot labels of standardised
    features (exact, deterministic, fast on a CPU)."""
    mean, std = train.mean(0), train.std(0) + 1e-6

    def design(x):
        x = (x - mean) / std
        return torch.cat([x, torch.ones(len(x), 1)], dim=1).double()

    a, b = design(train), design(test)
    targets = F.one_hot(train_y, int(train_y.max()) + 1).double()
    gram = a.T @ a + ridge * len(a) * torch.eye(a.shape[1], dtype=torch.float64)
    weights = torch.linalg.solve(gram, a.T @ targets)
    return (b @ weights).argmax(1)


def accuracy_by_group(
    predicted: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None
) -> dict[str, float]:
    """``{"all": acc}`` plus ``{str(g): acc}`` per group value."""
    correct = (predicted == labels).float()
    result = {"all": correct.mean().item()}
    if groups is not None:
        for group in groups.unique().tolist():
            result[str(group)] = correct[groups == group].mean().item()
    return result


def rankme(features: torch.Tensor) -> float:
    """Effective rank (Garrido et al. 2023): ``exp`` of the entropy of the normalised
    singular values. 1 = collapsed to a line, D = uses every direction equally."""
    s = torch.linalg.svdvals(features.double() - features.double().mean(0))
    p = s / s.sum() + 1e-12
    return float(torch.exp(-(p * p.log()).sum()))


@dataclass
class ProbeRow:
    """One model, one level: kNN and linear-probe accuracy (``{"all": a, "0": a_0, ...}``),
    mean per-dimension std and RankMe of the test features."""

    name: str
    level: int
    knn: dict[str, float]
    linear: dict[str, float]
    std: float
    rankme: float


def probe_levels(
    train: LevelFeatures, test: LevelFeatures, name: str, k: int = 20
) -> list[ProbeRow]:
    """kNN and linear probe on every level of ``train`` -> ``test`` features."""
    rows = []
    for level, (a, b) in enumerate(zip(train.levels, test.levels, strict=True)):
        knn = knn_predict(a, train.labels, b, k=k)
        linear = linear_probe_predict(a, train.labels, b)
        rows.append(
            ProbeRow(
                name=name,
                level=level,
                knn=accuracy_by_group(knn, test.labels, test.groups),
                linear=accuracy_by_group(linear, test.labels, test.groups),
                std=float(F.normalize(b, dim=1).std(0).mean()),
                rankme=rankme(b),
            )
        )
    return rows


def probe_model(
    model, train: Dataset, test: Dataset, name: str, k: int = 20, source: str = "levels"
) -> list[ProbeRow]:
    """:func:`probe_levels` on the target features of ``model`` (see
    :func:`dataset_features` for ``source``) for two labelled data sets."""
    train_features = dataset_features(model, train, source=source)
    return probe_levels(train_features, dataset_features(model, test, source=source), name, k)


def format_probe_table(rows: list[ProbeRow], group_names: tuple[str, ...] = ()) -> str:
    """A Markdown table: one row per (model, level), accuracies in %, per group after "all"."""
    groups = [str(g) for g in range(len(group_names))]
    heads = ["all", *group_names]
    header = (
        "| model | level | "
        + " | ".join(f"kNN {h}" for h in heads)
        + " | "
        + " | ".join(f"linear {h}" for h in heads)
        + " | std | RankMe |"
    )
    lines = [header, "|" + "---|" * 2 + "---:|" * (2 * len(heads) + 2)]
    for row in rows:
        cells = [row.name, str(row.level)]
        for probe in (row.knn, row.linear):
            cells += [f"{100 * probe.get(g, float('nan')):.1f}" for g in ["all", *groups]]
        cells += [f"{row.std:.3f}", f"{row.rankme:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
