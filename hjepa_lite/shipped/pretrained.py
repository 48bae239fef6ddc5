"""Pre-trained weights that ship with the package: load them instead of waiting for training.

``hjepa_lite/weights/`` holds, per shipped config (``SHIPPED``), the model after notebook 05's
budget (1000 steps of 32 Shapes images, seed 0, the config's own recipe):

    <name>-<sha>.safetensors    the EMA target encoder and the trained hierarchy head(s),
                                weight matrices as int8 per output channel (:mod:`.int8`)
    <name>-<sha>.history.json   the training history (losses per level, ranks, ...), 4 digits
    manifest.json               per file: the config, steps, batch, seed, commit, torch
                                version, threads, sha256, and the probe accuracies it gives

A build writes new files under new names (``<sha>``: the first 12 hex digits of the weights'
sha256), then the manifest, atomically and last, then removes the files it replaced: an
interrupted build leaves the previous files and manifest, which still load.

What is *not* shipped: the predictor (only training needs it) and the online encoder (the
loaded model's ``context_encoder`` is a copy of its EMA target encoder, as I-JEPA's released
checkpoints are). The loaded model is for features, maps and probes, not for more training.

:mod:`.weights_build` writes them, :mod:`.weights_probe` measures and tables their probe.
Reproduce a file (training on a CPU is deterministic for a given torch and thread count)::

    python -m hjepa_lite weights build tiny_fpn_add     # ~3 min on 2 cores
    python -m hjepa_lite weights check                  # sha256 and probes vs the manifest
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..config import Config
from ..model.factory import build_model
from ..model.hjepa import HJEPA
from .int8 import dequantize_state

__all__ = [
    "PROBE",
    "RECIPE",
    "SHIPPED",
    "load_history",
    "load_pretrained",
    "manifest",
    "model_from_file",
]

# notebook 05's budget; every shipped file is this recipe applied to one config
RECIPE = {"steps": 1000, "batch": 32, "seed": 0}
# the manifest's probe: a ridge linear probe and a kNN probe on the mean-pooled features of
# each level, Shapes at the config's image size, seed-fixed splits (a few seconds per model)
PROBE = {"dataset": "shapes", "train_images": 600, "test_images": 300, "k": 20}
SHIPPED = (
    "tiny_pool",
    "tiny_fpn_add",
    "tiny_fpn_concat",
    "tiny_pool_ema_head",
    "tiny_fpn_transposed",
    "tiny_fpn_attention",
    "tiny_fpn_widths",
    "tiny_fpn_panet",
)
STORED_PARTS = ("target_encoder.", "hierarchy.", "target_hierarchy.")  # what a file holds
MANIFEST_FILE = "manifest.json"


def weights_folder() -> Path:
    """The folder of the shipped files (inside the installed package)."""
    return Path(str(resources.files("hjepa_lite") / "weights"))


def manifest(folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest: ``{"recipe", "probe", "models": {name: entry}}``."""
    path = Path(folder or weights_folder()) / MANIFEST_FILE
    if not path.exists():
        return {"recipe": RECIPE, "probe": PROBE, "models": {}}
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ValueError(f"{path} is not a weights manifest (no 'models' mapping)")
    return data


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is damaged ({err}); restore it from the repository or rebuild it: "
            "python -m hjepa_lite weights build"
        ) from err


def _entry(name: str, folder: str | os.PathLike | None) -> dict[str, Any]:
    models = manifest(folder)["models"]
    if name not in models:
        raise ValueError(
            f"no pre-trained weights for {name!r}; shipped: {sorted(models)} "
            f"(build them with: python -m hjepa_lite weights build {name})"
        )
    return models[name]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_pretrained(name: str, folder: str | os.PathLike | None = None) -> HJEPA:
    """The shipped model of config ``name`` in eval mode (see the module docstring for what
    it holds). Raises ``ValueError`` if no file ships for ``name`` or the file's sha256 is not
    the manifest's (a truncated or edited file)."""
    entry = _entry(name, folder)
    path = Path(folder or weights_folder()) / entry["file"]
    if not path.is_file():
        raise ValueError(
            f"{path} is missing (manifest.json lists it); restore it from the repository or "
            f"rebuild it: python -m hjepa_lite weights build {name}"
        )
    if _sha256(path) != entry["sha256"]:
        raise ValueError(
            f"{path} does not match its manifest (sha256); restore it from the repository or "
            f"rebuild it: python -m hjepa_lite weights build {name}"
        )
    return model_from_file(entry["config"], path)


def model_from_file(config: dict[str, Any], path: Path) -> HJEPA:
    """Build the model of ``config`` (a whole config dict) and load a weights file into it."""
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        torch.manual_seed(RECIPE["seed"])  # the predictor, not shipped: its initial weights
        model = build_model(Config.from_dict(config).model)
    try:
        state = dequantize_state(load_file(path))
    except (SafetensorError, OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path} is not a readable safetensors weights file: {err}") from err
    missing = [k for k in model.state_dict() if k.startswith(STORED_PARTS) and k not in state]
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} tensors, e.g. {missing[0]!r}; rebuild it")
    prefix = "target_encoder."
    encoder = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    try:
        model.load_state_dict(state, strict=False)
        model.context_encoder.load_state_dict(encoder)
    except RuntimeError as err:  # a tensor of another shape: "size mismatch for <key>: ..."
        reason = " ".join(str(err).split())[:300]
        raise ValueError(f"{path} does not fit its config: {reason}; rebuild it") from err
    return model.eval()


def load_history(name: str, folder: str | os.PathLike | None = None) -> dict[str, list[float]]:
    """The training history of the shipped model (``Trainer.history``'s keys)."""
    entry = _entry(name, folder)
    path = Path(folder or weights_folder()) / entry["history"]
    if not path.is_file():
        raise ValueError(f"{path} is missing (manifest.json lists it); rebuild it")
    stored = _read_json(path)
    return {k: [math.nan if v is None else v for v in vs] for k, vs in stored.items()}
