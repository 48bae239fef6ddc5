"""What fights and what shows collapse: the regularizers, parameter-free targets, RankMe
logged during training, and fresh Shapes images every epoch."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from conftest import half_mask, tiny_hjepa
from einops import rearrange

from hjepa_lite.data.shapes import ShapesDataset
from hjepa_lite.evaluation.evaluate import rankme
from hjepa_lite.train.rank_monitor import RankMonitor, batch_std
from hjepa_lite.train.regularizers import REGULARIZERS, regularizer, sigreg, vicreg
from hjepa_lite.train.trainer import Trainer


def test_vicreg_on_known_inputs():
    """Whitened features cost ~0; constant features pay the full variance hinge (1); two
    identical unit-variance dimensions pay covariance 2 * 1**2 / D, divided by 25."""
    g = torch.Generator().manual_seed(0)
    white = torch.randn(20_000, 4, generator=g)
    assert vicreg(white) < 0.01
    torch.testing.assert_close(vicreg(torch.ones(100, 4)), torch.tensor(1.0), atol=0.02, rtol=0)
    x = torch.randn(20_000, 1, generator=g)
    twins = torch.cat([x, x], dim=1)
    torch.testing.assert_close(vicreg(twins), torch.tensor(2 / 2 / 25), atol=0.005, rtol=0)


def test_sigreg_is_small_for_a_gaussian_and_large_for_collapsed_or_shifted_features():
    g = torch.Generator().manual_seed(0)
    gaussian = torch.randn(4096, 32, generator=g)
    low = sigreg(gaussian, torch.Generator().manual_seed(1))
    collapsed = gaussian[:, :1].expand(-1, 32)  # every dimension the same: a line
    assert low < 3
    assert sigreg(collapsed, torch.Generator().manual_seed(1)) > 30 * low
    assert sigreg(gaussian + 1.0, torch.Generator().manual_seed(1)) > 30 * low
    assert sigreg(gaussian * 0.1, torch.Generator().manual_seed(1)) > 30 * low


def test_sigreg_matches_the_epps_pulley_integral_of_one_slice():
    """One slice, computed by a plain loop over t: the same number."""
    x = torch.randn(300, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    t = torch.linspace(-5, 5, 17, dtype=torch.float64)
    values = []
    for ti in t:
        real, imag = torch.cos(ti * x).mean(), torch.sin(ti * x).mean()
        phi = math.exp(-(ti.item() ** 2) / 2)
        values.append(((real - phi) ** 2 + imag**2) * phi)
    expected = 300 * torch.trapezoid(torch.stack(values), t)
    got = sigreg(x, torch.Generator().manual_seed(0), num_slices=1)  # a 1-D unit slice = +-x
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("name", REGULARIZERS)
def test_every_regularizer_gives_a_gradient_or_a_graph_preserving_zero(name):
    x = torch.randn(2, 10, 8, requires_grad=True)
    value = regularizer(name, x, torch.Generator().manual_seed(0))
    value.backward()
    assert x.grad is not None
    if name == "none":
        assert value == 0
    with pytest.raises(ValueError, match="loss.regularizer='l2'.*valid"):
        regularizer("l2", x)


def test_pooled_targets_have_no_head_and_are_the_layer_normed_pooled_encoder_tokens():
    model = tiny_hjepa(img_size=64, use_fpn=True, fpn_feature_dim=32, targets="pooled")
    assert model.target_hierarchy is None
    images = torch.randn(2, 3, 64, 64)
    out = model(images, half_mask(2, 64))
    tokens = model.target_tokens(images)
    for level, target in enumerate(out["targets"]):
        cells = 2**level
        grid = tokens.view(2, 8, 8, -1)
        pooled = grid.unflatten(1, (8 // cells, cells)).unflatten(3, (8 // cells, cells))
        pooled = pooled.mean((2, 4)).flatten(1, 2)
        expected = torch.nn.functional.layer_norm(pooled, pooled.shape[-1:])
        torch.testing.assert_close(target, expected)
    # the EMA update still moves the encoder, and nothing on the target path is trainable
    model.update_target(0.5)
    assert not any(p.requires_grad for p in model.target_encoder.parameters())


def test_top_down_targets_add_each_coarser_target_to_the_pooled_level_below_it():
    """targets="top_down": the parameter-free FPN of the EMA tokens (identity laterals, bilinear
    upsampling, add): the coarsest level is the pooled one, every finer level is its pooled
    tokens plus the upsampled (unnormalised) target above it, then layer-normed."""
    model = tiny_hjepa(img_size=64, use_fpn=True, fpn_feature_dim=32, targets="top_down")
    assert model.target_hierarchy is None
    images = torch.randn(2, 3, 64, 64)
    out = model(images, half_mask(2, 64))
    tokens = model.target_tokens(images)
    grid = rearrange(tokens, "b (h w) d -> b d h w", h=8)
    pooled = [F.avg_pool2d(grid, 2**level) for level in range(3)]
    summed = pooled[2]
    expected = [summed]
    for level in (1, 0):
        up = F.interpolate(summed, scale_factor=2, mode="bilinear", align_corners=False)
        summed = pooled[level] + up
        expected.insert(0, summed)
    for target, maps in zip(out["targets"], expected, strict=True):
        want = rearrange(maps, "b d h w -> b (h w) d")
        torch.testing.assert_close(target, F.layer_norm(want, want.shape[-1:]))
    one_level = tiny_hjepa(img_size=64, num_hierarchies=1, targets="top_down")
    torch.testing.assert_close(
        one_level.target_levels(images)[0],
        tiny_hjepa(img_size=64, num_hierarchies=1, targets="pooled").target_levels(images)[0],
    )


def test_target_depths_average_the_last_blocks_each_layer_normed_as_data2vec():
    """target_depths=k: the target tokens are the mean of the EMA encoder's last k blocks,
    each layer-normed, then layer-normed again; k=1 is the last block's tokens, as before; the
    pooled levels are built on them; k outside 1..depth is rejected when the model is built."""
    images = torch.randn(2, 3, 64, 64)
    last = tiny_hjepa(img_size=64, depth=3, targets="pooled")
    tokens = last.target_encoder(images)
    torch.testing.assert_close(
        last.target_tokens(images), F.layer_norm(tokens, (tokens.shape[-1],))
    )
    model = tiny_hjepa(img_size=64, depth=3, targets="pooled", target_depths=2)
    model.load_state_dict(last.state_dict())  # no new parameter: the same weights load
    encoder = model.target_encoder
    x = encoder.vit.norm_pre(encoder.vit.patch_embed(images) + encoder.pos_embed)
    blocks = []
    for block in encoder.vit.blocks:
        x = block(x)
        blocks.append(x)
    blocks[-1] = encoder.vit.norm(x)
    torch.testing.assert_close(blocks[-1], tokens)
    mean = (F.layer_norm(blocks[1], (x.shape[-1],)) + F.layer_norm(blocks[2], (x.shape[-1],))) / 2
    want = F.layer_norm(mean, mean.shape[-1:])
    torch.testing.assert_close(model.target_tokens(images), want)
    pooled = F.avg_pool2d(rearrange(want, "b (h w) d -> b d h w", h=8), 2)
    pooled = rearrange(pooled, "b d h w -> b (h w) d")
    torch.testing.assert_close(
        model.extract_features(images, 1), F.layer_norm(pooled, (x.shape[-1],))
    )
    for bad, message in ((0, "positive integer"), (True, "must be int"), (4, r"in 1\.\.3")):
        with pytest.raises(ValueError, match=f"target_depths.*{message}"):
            tiny_hjepa(img_size=64, depth=3, target_depths=bad)


def test_the_rank_monitor_logs_every_level_and_warns_once_when_a_rank_halves():
    history = {}
    monitor = RankMonitor(num_levels=2)
    g = torch.Generator().manual_seed(0)
    spread = {
        "targets": [torch.randn(4, 16, 8, generator=g)] * 2,
        "target_tokens": torch.randn(4, 16, 8, generator=g),
    }
    ranks = monitor.log(history, 0, spread)
    assert ranks["rank_0"] == pytest.approx(rankme(spread["targets"][0].reshape(-1, 8)))
    line = torch.randn(4, 16, 1, generator=g) * torch.ones(8)
    collapsed = {"targets": [line, spread["targets"][1]], "target_tokens": line}
    with pytest.warns(UserWarning, match="rank_0: RankMe fell from .* at step 5"):
        monitor.log(history, 5, collapsed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.log(history, 6, collapsed)  # warned once already
    assert history["rank_step"] == [0, 5, 6] and len(history["rank_encoder"]) == 3


def test_training_logs_ranks_and_the_regularizer_every_k_steps():
    config = {
        "model": {
            "encoder_type": "vit_tiny_patch16_224",
            "img_size": 32,
            "patch_size": 8,
            "depth": 1,
            "num_hierarchies": 2,
            "targets": "pooled",
            "predictor": {"embed_dim": 48, "depth": 1},
        },
        "data": {"batch_size": 4},
        "loss": {"level_weights": [1.0, 0.5], "regularizer": "vicreg"},
        "train": {"steps": 5, "warmup_steps": 1},
    }
    data = ShapesDataset("train", img_size=32, num_images=16)
    trainer = Trainer(config, progress=False, dataset=data, rank_every=2)
    history = trainer.fit()
    assert history["rank_step"] == [0, 2, 4]
    assert all(len(history[k]) == 3 for k in ("rank_0", "rank_1", "rank_encoder"))
    assert len(history["regularizer"]) == 5 and all(v > 0 for v in history["regularizer"])


def test_fresh_shapes_render_new_images_each_epoch_deterministically():
    data = ShapesDataset("train", img_size=32, num_images=36, fresh=True)
    first = data.images.clone()
    data.set_epoch(1)
    second = data.images.clone()
    assert not torch.equal(first, second)
    data.set_epoch(0)
    assert torch.equal(data.images, first)
    again = ShapesDataset("train", img_size=32, num_images=36, fresh=True)
    again.set_epoch(1)
    assert torch.equal(again.images, second)
    test = ShapesDataset("test", img_size=32, num_images=36)
    assert not torch.equal(test.images, second)
    fixed = ShapesDataset("train", img_size=32, num_images=36)
    fixed.set_epoch(3)
    assert torch.equal(fixed.images, first)


def test_parameter_counts_of_pooled_targets_have_no_target_head():
    from hjepa_lite import parameter_breakdown

    head = parameter_breakdown(tiny_hjepa(use_fpn=True, fpn_feature_dim=32))
    pooled = parameter_breakdown(tiny_hjepa(use_fpn=True, fpn_feature_dim=32, targets="pooled"))
    assert pooled["target_ema"] == head["target_ema"] - head["fpn"] - head["project"]
    assert pooled["trainable"] == head["trainable"]


def test_normalize_online_layer_norms_the_grid_the_online_head_sees():
    model = tiny_hjepa(normalize_online=True)
    seen = []
    model.hierarchy.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model(torch.randn(2, 3, 32, 32), half_mask(2, 16))
    grid = seen[0]
    torch.testing.assert_close(grid.mean(-1), torch.zeros(grid.shape[:2]), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        grid.var(-1, unbiased=False), torch.ones(grid.shape[:2]), atol=1e-3, rtol=0
    )


# -- small batches: every logged value finite ---------------------------------------------------


def test_the_batch_std_is_the_unbiased_std_across_images_and_zero_for_one_image():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(3, 5, 8, generator=g)
    torch.testing.assert_close(batch_std(features), features.mean(1).std(0).mean())
    assert batch_std(features[:1]).item() == 0.0  # one image: no spread across the batch


def test_vicreg_and_rankme_of_a_single_row_are_finite():
    """One token (batch 1, a level of one cell): VICReg's variance hinge is paid in full and
    there is no covariance; RankMe reads 1 (no spread to measure)."""
    one = torch.randn(1, 8)
    torch.testing.assert_close(vicreg(one), torch.tensor(1 - 1e-2), atol=1e-6, rtol=0)
    history = {}
    ranks = RankMonitor(num_levels=1).log(
        history, 0, {"targets": [one[None]], "target_tokens": torch.randn(1, 4, 8)}
    )
    assert ranks["rank_0"] == 1.0 and all(math.isfinite(v) for v in ranks.values())


@pytest.mark.parametrize("regularizer_name", ["vicreg", "sigreg"])
@pytest.mark.parametrize("batch_size", [1, 2])
def test_batch_size_1_and_2_train_with_every_logged_value_finite(batch_size, regularizer_name):
    """One 3x3-patch target on a 4x4 grid always covers a whole 2x2 cell, so every level is
    measured at every step (a level without a valid cell logs a NaN loss by design)."""
    config = {
        "model": {
            "encoder_type": "vit_tiny_patch16_224",
            "img_size": 32,
            "patch_size": 8,
            "depth": 1,
            "num_hierarchies": 2,
            "predictor": {"embed_dim": 48, "depth": 1},
        },
        "data": {"batch_size": batch_size},
        "masks": {"num_targets": 1, "target_scale": [0.55, 0.6], "target_aspect": [1.0, 1.0]},
        "loss": {"level_weights": [1.0, 0.5], "regularizer": regularizer_name},
        "train": {"steps": 4, "warmup_steps": 1},
    }
    data = ShapesDataset("train", img_size=32, num_images=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "degrees of freedom is <= 0"
        history = Trainer(config, progress=False, dataset=data, rank_every=1).fit()
    assert len(history["loss"]) == 4 and len(history["rank_0"]) == 4
    for key, values in history.items():
        assert all(math.isfinite(v) for v in values), f"{key}: {values}"
