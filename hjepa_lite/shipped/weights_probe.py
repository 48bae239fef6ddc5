"""The probe the manifest records for every shipped model (``PROBE``): measuring it
(:func:`probe_accuracies`), how far a re-measure may be (:func:`probe_tolerance`), and the
manifest as a table of it (:func:`manifest_table`, ``python -m hjepa_lite weights list``)."""

from __future__ import annotations

import os

import torch

from ..model.hjepa import HJEPA
from .pretrained import PROBE, SHIPPED, manifest

__all__ = ["manifest_table", "probe_accuracies", "probe_tolerance"]


@torch.no_grad()
def probe_accuracies(model: HJEPA) -> dict[str, list[float]]:
    """The manifest's probe: ``{"linear": [% per level], "knn": [% per level]}`` on Shapes
    (``PROBE``), rounded to 0.01."""
    from ..data.datasets import eval_transform
    from ..data.shapes import ShapesDataset
    from ..evaluation.evaluate import probe_model

    encoder = model.context_encoder
    data = [
        ShapesDataset(
            split,
            encoder.img_size,
            encoder.patch_size,
            num_images=PROBE[f"{split}_images"],
            transform=eval_transform(encoder.img_size),
        )
        for split in ("train", "test")
    ]
    rows = probe_model(model.eval(), *data, name="", k=PROBE["k"])
    return {
        probe: [round(100 * getattr(row, probe)["all"], 2) for row in rows]
        for probe in ("linear", "knn")
    }


def manifest_table(
    names: tuple[str, ...] | None = None, folder: str | os.PathLike | None = None
) -> str:
    """The manifest as a Markdown table: per shipped file (``names``, default all) its size,
    training time and the linear probe per level at init and after training
    (``python -m hjepa_lite weights list``); a message with the build commands when none of
    ``names`` ships."""
    data = manifest(folder)
    models = data["models"]
    requested = names or tuple(models) or SHIPPED
    names = [name for name in requested if name in models]
    if not names:
        build = "python -m hjepa_lite weights build " + " ".join(requested)
        return f"No pre-trained weights here for {', '.join(requested)} yet; build them: {build}"
    probe = data["probe"]
    lines = [
        f"Linear probe on Shapes ({probe['train_images']} train / {probe['test_images']} test "
        "images), accuracy in % per level, of the shipped (int8) file; init = the same initial "
        "weights, untrained.",
        "",
        "| config | size (MB) | trained (min) | init L0 / L1 / L2 | pre-trained L0 / L1 / L2 "
        "| best level gain |",
        "|---|---:|---:|---|---|---:|",
    ]
    for name in names:
        entry = models[name]
        init, trained = entry["probe_init"]["linear"], entry["probe"]["linear"]
        lines.append(
            f"| `{name}` | {entry['bytes'] / 2**20:.1f} | {entry['train_minutes']:.1f} "
            f"| {' / '.join(f'{a:.1f}' for a in init)} "
            f"| {' / '.join(f'{a:.1f}' for a in trained)} | {max(trained) - max(init):+.1f} |"
        )
    total = sum(models[name]["bytes"] for name in names)
    lines += ["", f"{len(names)} files, {total / 2**20:.1f} MB in all."]
    return "\n".join(lines)


def probe_tolerance() -> float:
    """How far a re-measured probe may be from the manifest's, in points: one test image
    (float sums differ in the last bits between CPUs, which can flip a near-tie)."""
    return 100 / PROBE["test_images"] + 0.01
