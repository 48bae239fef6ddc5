"""Shared fixtures: tiny models that build and run in well under a second on a CPU."""

import json
import shutil

import pytest
import torch

from hjepa_lite import create_hjepa

TINY = dict(
    encoder_type="vit_tiny_patch16_224",
    img_size=32,
    patch_size=8,
    depth=1,
    num_hierarchies=3,
    predictor_depth=1,
)


def tiny_hjepa(**overrides):
    """A 4x4-patch H-JEPA with one encoder block (overrides go to create_hjepa)."""
    torch.manual_seed(0)
    return create_hjepa(**{**TINY, **overrides})


@pytest.fixture(params=["pool", "add", "concat"])
def tiny_model(request):
    if request.param == "pool":
        return tiny_hjepa()
    return tiny_hjepa(use_fpn=True, fpn_feature_dim=64, fpn_fusion_method=request.param)


def half_mask(batch: int, num_patches: int) -> torch.Tensor:
    """The seed's example mask: first half hidden (1), second half visible (0)."""
    mask = torch.zeros(batch, num_patches)
    mask[:, : num_patches // 2] = 1
    return mask


def tiny_config(steps=6, **train):
    """A config dict of a one-block 64x64 model that trains a step in a fraction of a second."""
    return {
        "model": {
            "encoder_type": "vit_tiny_patch16_224",
            "img_size": 64,
            "patch_size": 8,
            "depth": 1,
            "num_hierarchies": 3,
            "predictor": {"embed_dim": 48, "depth": 1},
        },
        "data": {"batch_size": 8},
        "train": {"steps": steps, "warmup_steps": 2, "checkpoint_every": 2, **train},
    }


@pytest.fixture
def one_model(tmp_path):
    """(folder, entry): a copy of the shipped tiny_pool files and a manifest with that one
    entry (a weights folder to damage or to list)."""
    from hjepa_lite.shipped import pretrained

    data = pretrained.manifest()
    entry = data["models"]["tiny_pool"]
    data["models"] = {"tiny_pool": entry}
    for key in ("file", "history"):
        shutil.copy(pretrained.weights_folder() / entry[key], tmp_path / entry[key])
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    return tmp_path, entry
