"""Dense probes: which object is in each cell of each pyramid level, read off frozen features.

A global probe asks "which class is this image?" of mean-pooled tokens, where a pyramid cannot
show what it buys. A dense probe asks it of every cell: a linear map from a cell's feature to
its label (the class covering at least a quarter of the cell, else background;
:class:`~hjepa_lite.data.dense_labels.DenseLabels`), fitted in closed form on training cells and
scored on test cells, with object accuracy split by object size (small objects only name
cells of the finest level) and mean IoU.

The feature maps it reads are the sources of :mod:`hjepa_lite.evaluation.dense_sources`. Every
source but pixels is measured on trained weights and on the same architecture at random init
(:func:`probe_dense` with the untrained model), so a number says what training added.

    >>> rows = probe_dense(model, train_set, test_set, sources=("targets", "fpn"))
    >>> rows += probe_dense(untrained_like(model), train_set, test_set, ("targets", "fpn"))
    >>> print(format_dense_table(rows))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..data.dense_labels import BACKGROUND, DenseLabels
from .dense_sources import FINEST_ONLY, SOURCES, dense_features

__all__ = [
    "PROBE_SETS",
    "DenseResult",
    "dense_truth",
    "fit_dense_probe",
    "format_dense_table",
    "probe_dense",
    "score_dense",
    "probe_splits",
    "untrained_like",
]

# as the global linear probe (:func:`hjepa_lite.evaluation.evaluate.linear_probe_predict`)
RIDGE = 1e-2
_ROWS = 16_384  # cells per chunk of the normal equations


def dense_truth(dataset: Dataset) -> DenseLabels:
    """The per-pixel truth of a data set; ValueError if it has none."""
    truth = getattr(dataset, "dense", None)
    if not isinstance(truth, DenseLabels):
        raise ValueError(
            f"{type(dataset).__name__} has no per-cell labels (no .dense): a dense probe needs "
            "a data set with per-pixel truth, e.g. ShapesDataset or PhotoObjectsDataset"
        )
    return truth


PROBE_SETS = ("shapes", "photo_objects")  # the data sets with per-pixel truth


def probe_splits(
    dataset: str,
    img_size: int,
    patch_size: int,
    images: tuple[int | None, int | None] = (None, None),
) -> list[Dataset]:
    """``[train, test]`` of a data set with per-pixel truth, rendered at a model's image and
    patch size with the evaluation transform (what every probe reads; no crops).
    ``images``: Shapes images per split (None: the split's size; photo_objects' are fixed)."""
    from ..data.datasets import eval_transform
    from ..data.photo_objects import PhotoObjectsDataset
    from ..data.shapes import ShapesDataset

    if dataset not in PROBE_SETS:
        raise ValueError(f"dataset={dataset!r}; valid choices: {PROBE_SETS}")
    transform = eval_transform(img_size)
    if dataset == "photo_objects":
        return [PhotoObjectsDataset(s, img_size, patch_size, transform) for s in ("train", "test")]
    return [
        ShapesDataset(split, img_size, patch_size, num_images=n, transform=transform)
        for split, n in zip(("train", "test"), images, strict=True)
    ]


def untrained_like(model, seed: int = 0):
    """The same architecture at the initial weights a Trainer with ``train.seed = seed``
    starts from (eval mode); the caller's random state is left as it was."""
    from ..model.factory import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(model.config).eval()


def _design(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    x = (x - mean) / std
    return torch.cat([x, torch.ones(len(x), 1)], 1).double()


def fit_dense_probe(
    features: torch.Tensor, labels: torch.Tensor, num_labels: int, ridge: float = RIDGE
):
    """A class-balanced closed-form linear probe on cells: ``features`` ``(m, D)``,
    ``labels`` ``(m,)`` in ``0..num_labels-1``. Each label's cells carry equal total weight
    (background would otherwise win every cell); standardised features, ridge ``ridge``
    times the total weight. Returns ``predict(features) -> labels``."""
    mean, std = features.mean(0), features.std(0) + 1e-6
    counts = torch.bincount(labels, minlength=num_labels).double()
    weight = (1.0 / counts.clamp(min=1))[labels]
    weight = weight * len(labels) / weight.sum()
    dim = features.shape[1] + 1
    gram = torch.zeros(dim, dim, dtype=torch.float64)
    moment = torch.zeros(dim, num_labels, dtype=torch.float64)
    for start in range(0, len(labels), _ROWS):
        rows = slice(start, start + _ROWS)
        a = _design(features[rows], mean, std)
        weighted = a * weight[rows, None]
        gram += weighted.T @ a
        moment += weighted.T @ F.one_hot(labels[rows], num_labels).double()
    gram += ridge * len(labels) * torch.eye(dim, dtype=torch.float64)
    weights = torch.linalg.solve(gram, moment)

    def predict(x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                (_design(x[i : i + _ROWS], mean, std) @ weights).argmax(1)
                for i in range(0, len(x), _ROWS)
            ]
        )

    return predict


@dataclass(frozen=True)
class DenseResult:
    """One dense probe: ``objects`` = accuracy on object cells (``"all"`` and per size name),
    ``background`` = accuracy on background cells, ``miou`` = mean IoU over background and
    every class, ``miou_by_size[s]`` = mean IoU over the classes counting only background
    cells and cells of objects of size ``s``; ``cells[s]`` = test cells of each size. In %."""

    source: str
    level: int
    objects: dict[str, float]
    background: float
    miou: float
    miou_by_size: dict[str, float]
    cells: dict[str, int]


def _miou(predicted: torch.Tensor, truth: torch.Tensor, labels: Sequence[int]) -> float:
    ious = []
    for label in labels:
        union = ((predicted == label) | (truth == label)).sum()
        if union:
            ious.append((((predicted == label) & (truth == label)).sum() / union).item())
    return 100 * sum(ious) / max(1, len(ious))


def score_dense(
    predicted: torch.Tensor,
    labels: torch.Tensor,
    sizes: torch.Tensor,
    size_names: Sequence[str],
    num_labels: int,
    source: str = "",
    level: int = 0,
) -> DenseResult:
    """Score cell predictions against their truth (flat tensors of one level)."""
    correct = (predicted == labels).float()
    objects, background = labels != BACKGROUND, labels == BACKGROUND
    by_size = {"all": 100 * correct[objects].mean().item() if objects.any() else float("nan")}
    miou_by_size, cells = {}, {"all": int(objects.sum())}
    for index, name in enumerate(size_names):
        chosen = sizes == index
        cells[name] = int(chosen.sum())
        by_size[name] = 100 * correct[chosen].mean().item() if chosen.any() else float("nan")
        keep = chosen | background
        miou_by_size[name] = (
            _miou(predicted[keep], labels[keep], range(1, num_labels))
            if chosen.any()
            else float("nan")
        )
    return DenseResult(
        source,
        level,
        by_size,
        100 * correct[background].mean().item(),
        _miou(predicted, labels, range(num_labels)),
        miou_by_size,
        cells,
    )


def _check_levels(model, source: str, levels: Sequence[int] | None) -> list[int]:
    available = 1 if source in FINEST_ONLY else model.num_levels
    levels = list(range(available)) if levels is None else list(levels)
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < available:
            raise ValueError(
                f"level={level!r} is out of range for source {source!r}: valid 0..{available - 1}"
            )
    return levels


def probe_dense(
    model,
    train_set: Dataset,
    test_set: Dataset,
    sources: Sequence[str] = SOURCES,
    levels: Sequence[int] | None = None,
    ridge: float = RIDGE,
) -> list[DenseResult]:
    """The dense probe of every source and level (``levels`` None: all a source has).

    Everything is checked before a feature is computed: the sources, the levels, that both
    data sets have per-pixel truth at the model's image size, and that the patch divides it.
    """
    for source in sources:
        if source not in SOURCES:
            raise ValueError(f"source={source!r} is not a dense source; valid choices: {SOURCES}")
    chosen = {source: _check_levels(model, source, levels) for source in sources}
    truths = [dense_truth(train_set), dense_truth(test_set)]
    encoder = model.context_encoder
    side = (encoder.img_size, encoder.img_size)
    for truth in truths:
        if truth.image_size != side:
            raise ValueError(
                f"the data set's images are {truth.image_size}, the model's {side}: render it "
                f"at img_size={encoder.img_size}"
            )
    cells = {
        level: [t.cells(encoder.patch_size, level) for t in truths]
        for level in range(model.num_levels)
    }
    for level, size in enumerate(model.hierarchy.level_sizes):
        grid = tuple(cells[level][0][0].shape[1:])
        if tuple(size) != grid:
            raise ValueError(
                f"level {level} of this model is a {tuple(size)} grid, the image's cells "
                f"{grid}: a dense probe needs 2-D pooling (model.pooling "
                f"{model.config.pooling!r} groups tokens of a flattened sequence)"
            )
    num_labels = 1 + len(truths[0].classes)
    features = [dense_features(model, data, sources) for data in (train_set, test_set)]
    rows = []
    for source in sources:
        train, test = features[0][source], features[1][source]
        for level in chosen[source]:
            (train_y, _), (test_y, test_sizes) = cells[level]
            if train[level].shape[1:3] != train_y.shape[1:]:
                raise ValueError(
                    f"level {level}'s grid {tuple(train[level].shape[1:3])} is not the label "
                    f"grid {tuple(train_y.shape[1:])}"
                )
            predict = fit_dense_probe(
                train[level].flatten(0, 2), train_y.flatten(), num_labels, ridge
            )
            predicted = predict(test[level].flatten(0, 2))
            rows.append(
                score_dense(
                    predicted,
                    test_y.flatten(),
                    test_sizes.flatten(),
                    truths[1].sizes,
                    num_labels,
                    source,
                    level,
                )
            )
    return rows


def format_dense_table(rows: Sequence[DenseResult], names: Sequence[str] = ()) -> str:
    """A Markdown table of dense results (``names[i]`` labels row ``i``, e.g. a model)."""
    sizes = [key for key in rows[0].objects if key != "all"] if rows else []
    head = ["model", "source", "level", "objects", *sizes, "background", "mIoU"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for index, row in enumerate(rows):
        name = names[index] if index < len(names) else ""
        values = [row.objects["all"], *(row.objects[s] for s in sizes), row.background, row.miou]
        lines.append(
            f"| {name} | {row.source} | {row.level} | "
            + " | ".join("-" if v != v else f"{v:.1f}" for v in values)
            + " |"
        )
    return "\n".join(lines)
