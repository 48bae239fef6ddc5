"""The H-JEPA model: gradients, the frozen EMA target path, the seed API, and bad input."""

import pytest
import torch
from conftest import half_mask, tiny_hjepa

from hjepa_lite import create_hjepa


def masked_mse(outputs):
    """A minimal loss over the valid target cells of every level."""
    total = 0.0
    for pred, target, valid in zip(
        outputs["predictions"], outputs["targets"], outputs["target_masks"], strict=True
    ):
        total = total + ((pred - target) ** 2).mean(-1)[valid].mean()
    return total


@pytest.mark.parametrize("kind", ["pool", "add", "concat", "pool_1d"])
def test_every_online_parameter_gets_a_gradient_and_no_target_parameter(kind):
    """On an 8x8 grid with the top half hidden, every level has valid cells, so every single
    online parameter must receive a non-zero gradient; the target path none."""
    fpn = dict(use_fpn=True, fpn_feature_dim=64, fpn_fusion_method=kind) if kind != "pool" else {}
    if kind == "pool_1d":
        fpn = dict(pooling="1d_seed")
    model = tiny_hjepa(img_size=64, **fpn)
    outputs = model(torch.randn(2, 3, 64, 64), half_mask(2, 64))
    assert all(m.any() for m in outputs["target_masks"])
    masked_mse(outputs).backward()
    for part in ("context_encoder", "predictor", "hierarchy"):
        for name, p in getattr(model, part).named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{part}.{name}: no gradient"
    for part in ("target_encoder", "target_hierarchy"):
        for name, p in getattr(model, part).named_parameters():
            assert not p.requires_grad, f"{part}.{name} is trainable"
            assert p.grad is None


def test_targets_carry_no_graph(tiny_model):
    outputs = tiny_model(torch.randn(2, 3, 32, 32), half_mask(2, 16))
    assert all(not t.requires_grad for t in outputs["targets"])
    assert all(p.requires_grad for p in outputs["predictions"])


def test_target_levels_are_the_pyramid_of_the_target_tokens(tiny_model):
    images = torch.randn(2, 3, 32, 32)
    tokens = tiny_model.target_tokens(images)
    assert tokens.shape == (2, 16, tiny_model.embed_dim) and not tokens.requires_grad
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(2, 16), atol=1e-5, rtol=0)
    for a, b in zip(
        tiny_model.target_levels(images), tiny_model.target_pyramid(tokens), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_ema_copy_starts_equal_and_moves_by_momentum(tiny_model):
    online = tiny_model.context_encoder.state_dict()
    target = tiny_model.target_encoder.state_dict()
    assert online.keys() == target.keys()
    for key in online:
        torch.testing.assert_close(online[key], target[key], rtol=0, atol=0)
    before = [p.clone() for p in tiny_model.target_hierarchy.parameters()]
    with torch.no_grad():
        for p in tiny_model.hierarchy.parameters():
            p.add_(1.0)
    tiny_model.update_target(momentum=0.75)
    for old, new in zip(before, tiny_model.target_hierarchy.parameters(), strict=True):
        torch.testing.assert_close(new, old + 0.25)
    tiny_model.update_target(momentum=0.0)
    for p_on, p_tg in zip(
        tiny_model.hierarchy.parameters(), tiny_model.target_hierarchy.parameters(), strict=True
    ):
        torch.testing.assert_close(p_on, p_tg)
    with pytest.raises(ValueError, match="momentum"):
        tiny_model.update_target(1.5)


def test_target_path_stays_in_eval_mode():
    model = tiny_hjepa(drop_path_rate=0.5).train()
    assert model.context_encoder.training and not model.target_encoder.training
    assert not model.target_hierarchy.training


def test_hidden_pixels_never_reach_the_online_path(tiny_model):
    """Masked patches are dropped before the context encoder: changing their pixels changes
    the targets but not a single prediction, at any level."""
    tiny_model.eval()
    images = torch.randn(2, 3, 32, 32)
    mask = half_mask(2, 16)  # hides patch rows 0-1 of the 4x4 grid = pixel rows 0-15
    changed = images.clone()
    changed[:, :, :16] = torch.randn(2, 3, 16, 32)
    a, b = tiny_model(images, mask), tiny_model(changed, mask)
    for pa, pb in zip(a["predictions"], b["predictions"], strict=True):
        torch.testing.assert_close(pa, pb)
    assert not torch.allclose(a["targets"][0], b["targets"][0])


def test_seed_usage_snippets_on_a_tiny_model():
    model = create_hjepa(
        encoder_type="vit_tiny_patch16_224",
        img_size=64,
        embed_dim=192,
        num_hierarchies=3,
        use_fpn=True,
        fpn_feature_dim=96,
        fpn_fusion_method="add",
        patch_size=8,
        depth=1,
        predictor_depth=1,
    )
    images = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 64)  # 8x8 = 64 patches
    mask[:, :32] = 1  # mask 50% of patches
    outputs = model(images, mask, return_all_levels=True)
    predictions, targets = outputs["predictions"], outputs["targets"]
    assert [p.shape for p in predictions] == [(2, 64, 192), (2, 16, 192), (2, 4, 192)]
    assert [t.shape for t in targets] == [p.shape for p in predictions]
    # valid cells: level 0 = hidden rows 0-3; level 1 = rows 0-1; level 2 = row 0 of 2x2
    assert [m.sum().item() for m in outputs["target_masks"]] == [64, 16, 4]
    with torch.no_grad():
        for level, n in enumerate([64, 16, 4]):
            assert model.extract_features(images, level=level).shape == (2, n, 192)
    first_only = model(images, mask, return_all_levels=False)
    assert len(first_only["predictions"]) == 1


def test_extract_features_is_the_layer_normed_target(tiny_model):
    images = torch.randn(2, 3, 32, 32)
    features = tiny_model.extract_features(images, level=1)
    torch.testing.assert_close(
        features, tiny_model(images, half_mask(2, 16))["targets"][1], rtol=0, atol=0
    )
    torch.testing.assert_close(features.mean(-1), torch.zeros(2, 4), atol=1e-5, rtol=0)


def test_target_mask_restricts_the_loss_cells():
    model = tiny_hjepa()
    mask = torch.zeros(1, 16, dtype=torch.bool)
    mask[0, :8] = True
    target = torch.zeros(1, 16, dtype=torch.bool)
    target[0, [0, 1, 4, 5]] = True  # one 2x2 block = one level-1 cell
    out = model(torch.randn(1, 3, 32, 32), mask, target_mask=target)
    assert out["target_masks"][0].sum() == 4
    assert out["target_masks"][1][0].tolist() == [True, False, False, False]
    assert out["target_masks"][2].sum() == 0
    with pytest.raises(ValueError, match="subset"):
        model(torch.randn(1, 3, 32, 32), mask, target_mask=~mask)


def test_1d_seed_pooling_runs_end_to_end():
    model = tiny_hjepa(pooling="1d_seed", use_fpn=True)
    out = model(torch.randn(2, 3, 32, 32), half_mask(2, 16))
    assert out["grid_sizes"] == [(1, 16), (1, 8), (1, 4)]
    assert [p.shape[1] for p in out["predictions"]] == [16, 8, 4]


# -- bad input: a ValueError that names the field and what is valid ------------------------

BAD_MODELS = [
    (
        dict(use_fpn=True, fpn_fusion_method="sum"),
        r"fusion_method.*'sum'.*\('add', 'concat', 'attention'\)",
    ),
    (dict(num_hierarchies=4), r"num_hierarchies=4 .*4x4.*1\.\.3"),
    (dict(img_size=36), r"img_size=36 is not divisible by the patch size 8"),
    (dict(embed_dim=384), r"embed_dim=384 disagrees with encoder_type='vit_tiny_patch16_224'.*192"),
    (dict(encoder_type="resnet50"), r"encoder_type='resnet50' is not a timm ViT"),
    (dict(pooling="3d"), r"pooling.*'3d'.*\('2d', '1d_seed'\)"),
    (dict(num_hierarchies=0), r"num_hierarchies.*positive"),
    (dict(fpn_upsample="cubic"), r"upsample.*'cubic'.*valid choices"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_MODELS)
def test_bad_model_arguments(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_hjepa(**overrides)


def test_bad_masks_and_images():
    model = tiny_hjepa()
    images = torch.randn(2, 3, 32, 32)
    bad = {
        "shape": (torch.zeros(2, 15), r"mask must have shape \(B, N\) = \(2, 16\).*4x4"),
        "values": (torch.full((2, 16), 0.5), r"mask must be bool, or an integer/float"),
        "complex": (torch.zeros(2, 16, dtype=torch.complex64), r"mask must be bool"),
        "all visible": (torch.zeros(2, 16), r"hides 0 of 16 tokens"),
        "all hidden": (torch.ones(2, 16), r"hides 16 of 16 tokens"),
        "unequal": (torch.tensor([[1] * 8 + [0] * 8, [1] * 7 + [0] * 9]), r"same number"),
    }
    for mask, message in bad.values():
        with pytest.raises(ValueError, match=message):
            model(images, mask)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 32, 32\)"):
        model(torch.randn(2, 3, 64, 64), half_mask(2, 16))
    with pytest.raises(ValueError, match=r"level=3 is out of range.*0\.\.2"):
        model.extract_features(images, level=3)
    with pytest.raises(ValueError, match="level must be an int"):
        model.extract_features(images, level=1.0)
    # int and bool masks in the seed's 0/1 format are accepted
    model(images, half_mask(2, 16).long())
    model(images, half_mask(2, 16).bool())


def test_the_model_keeps_the_config_it_was_built_from():
    from hjepa_lite import ModelConfig, build_model

    config = ModelConfig.from_dict(
        {"encoder_type": "vit_tiny_patch16_224", "img_size": 32, "patch_size": 8, "depth": 1}
    )
    assert build_model(config).config is config
