"""Building the shipped weights: ``python -m hjepa_lite weights build [NAME ...]``.

One build trains a config with notebook 05's budget (:data:`~hjepa_lite.shipped.pretrained.RECIPE`),
probes it before and after training, stores the EMA target encoder and the trained head(s) as
int8 safetensors (:mod:`.int8`) beside its history, and records all of it in the manifest
(:mod:`.pretrained` reads what this module writes). New files get new names; the manifest is
written atomically and last; the files it replaced are removed after it: an interrupted build
leaves the previous files and manifest, which still load.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from ..config import Config, load_config
from ..core.arguments import check_positive
from ..train.checkpoint import atomic_write_bytes, atomic_write_json, check_writable_folder
from .int8 import quantize_state
from .pretrained import (
    MANIFEST_FILE,
    RECIPE,
    STORED_PARTS,
    manifest,
    model_from_file,
    weights_folder,
)
from .weights_probe import probe_accuracies

__all__ = ["build_target", "build_weights"]


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parents[2]  # the repository: hjepa_lite/shipped/ is two down
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _rounded(history: dict[str, list[float]]) -> dict[str, list[float | None]]:
    def r(v: float) -> float | None:
        return None if not math.isfinite(v) else float(f"{v:.4g}")

    return {k: [r(float(v)) for v in vs] for k, vs in history.items()}


def build_target(name: str) -> tuple[str, Config]:
    """What ``weights build NAME`` builds: ``(file name stem, config)`` for a shipped config's
    name or a YAML file's path (the stem names the files). Raises ValueError (unknown name,
    bad config, or a stem that is not a plain file name) before anything trains."""
    stem = Path(name).stem if name.endswith((".yaml", ".yml")) else name
    if not stem or stem != Path(stem).name or stem.startswith("."):
        raise ValueError(f"{name!r} does not give a plain file name to write weights to")
    try:
        config = Config.from_dict(load_config(name))
    except FileNotFoundError as err:
        raise ValueError(str(err)) from err
    return stem, config


def build_weights(
    name: str,
    folder: str | os.PathLike | None = None,
    progress: bool = True,
    steps: int = RECIPE["steps"],
) -> dict[str, Any]:
    """Train config ``name`` (a shipped name or a YAML path, see :func:`build_target`) with
    ``RECIPE`` (``steps`` only to test this function), write its weights and history into
    ``folder`` (default: the package's), probe it and update the manifest there, atomically
    and last. Arguments are checked before training. Returns the manifest entry."""
    from ..train.trainer import Trainer

    check_positive("build_weights", steps=steps)
    name, config = build_target(name)
    folder = check_writable_folder(folder or weights_folder(), "weights folder")
    previous = manifest(folder)  # a damaged manifest stops the build here, before training
    config.train.steps, config.train.epochs = steps, None
    config.data.batch_size, config.train.seed = RECIPE["batch"], RECIPE["seed"]

    trainer = Trainer(config, out_dir=None, progress=progress)
    init_probe = probe_accuracies(trainer.model)  # the initial weights, before any step
    start = time.perf_counter()
    trainer.fit()
    minutes = (time.perf_counter() - start) / 60
    model = trainer.model.eval()
    fp32_probe = probe_accuracies(model)

    state = {k: v for k, v in model.state_dict().items() if k.startswith(STORED_PARTS)}
    # one metadata key: safetensors writes several in an arbitrary order (the sha256 would vary)
    data = save(quantize_state(state), metadata={"hjepa_lite": f"{name}; int8 per row"})
    sha256 = hashlib.sha256(data).hexdigest()
    path = folder / f"{name}-{sha256[:12]}.safetensors"
    history_path = folder / f"{name}-{sha256[:12]}.history.json"
    atomic_write_bytes(data, path)
    history = json.dumps(_rounded(trainer.history), separators=(",", ":"))
    atomic_write_bytes(history.encode(), history_path)
    entry = {
        "file": path.name,
        "history": history_path.name,
        "sha256": sha256,
        "bytes": len(data),
        "config": config.to_dict(),
        "steps": steps,
        "batch": config.data.batch_size,
        "seed": config.train.seed,
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(
            _git("status", "--porcelain", "--", "hjepa_lite", "configs", ":!hjepa_lite/weights")
        ),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_minutes": round(minutes, 2),
        "probe": probe_accuracies(model_from_file(config.to_dict(), path)),  # the int8 file's
        "probe_fp32": fp32_probe,  # the same model before int8 storage
        "probe_init": init_probe,  # the same initial weights, untrained
    }
    old = previous["models"].get(name, {})
    previous["models"][name] = entry
    atomic_write_json(previous, folder / MANIFEST_FILE)  # the commit point: new files from here on
    # what this build replaced, and what interrupted builds of this name left behind
    stale = {old.get("file"), old.get("history")}
    stale |= {p.name for p in folder.glob(f"{glob.escape(name)}-{'[0-9a-f]' * 12}.*")}
    for file in stale - {entry["file"], entry["history"], None}:
        (folder / file).unlink(missing_ok=True)
    return entry
