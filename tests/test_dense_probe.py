"""The dense probe: each source's maps against a direct computation, the closed-form
class-balanced probe against a least-squares reference, scores on a hand example, and bad
input refused before any feature is computed."""

import pytest
import torch
import torch.nn.functional as F

from hjepa_lite.data.photo_crops import PhotoCropsDataset
from hjepa_lite.data.shapes import ShapesDataset
from hjepa_lite.evaluation.dense_probe import (
    fit_dense_probe,
    probe_dense,
    score_dense,
    untrained_like,
)
from hjepa_lite.evaluation.dense_sources import SOURCES, dense_features, source_levels
from hjepa_lite.model.factory import create_hjepa


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_hjepa(
        "vit_tiny_patch16_224", img_size=32, patch_size=8, depth=2, use_fpn=True,
        predictor_depth=1, num_hierarchies=3, targets="pooled",
    ).eval()  # fmt: skip


def test_every_source_is_what_it_says(model):
    images = torch.randn(2, 3, 32, 32)
    maps = {source: source_levels(model, images, source) for source in SOURCES}
    for level in range(3):
        want = model.extract_features(images, level)
        assert torch.allclose(maps["targets"][level].flatten(1, 2), want, atol=1e-6)
        assert torch.equal(maps["fpn"][level].flatten(1, 2), model.online_levels(images)[level])
    tokens = model.target_tokens(images).unflatten(1, (4, 4))  # (B, h, w, D)
    assert len(maps["encoder"]) == 1 and torch.equal(maps["encoder"][0], tokens)
    assert torch.equal(maps["simple_pyramid"][1][:, 0, 1], tokens[:, 0:2, 2:4].amax((1, 2)))
    column = maps["hypercolumn"][0]  # level 1's cell (i // 2, j // 2) repeated at (i, j)
    assert column.shape == (2, 4, 4, 3 * 192)
    torch.testing.assert_close(column[:, 3, 1, 192:384], tokens[:, 2:4, 0:2].mean((1, 2)))
    depths = maps["depths"]  # every block's tokens, layer-normed; the last is `encoder`
    assert len(depths) == 1 and depths[0].shape == (2, 4, 4, 192 * model.context_encoder.depth)
    torch.testing.assert_close(depths[0][..., -192:], tokens)
    vit = model.target_encoder.vit
    first = vit.blocks[0](vit.patch_embed(images) + model.target_encoder.pos_embed)
    torch.testing.assert_close(depths[0][..., :192].flatten(1, 2), F.layer_norm(first, (192,)))
    pixels = maps["pixels"][2]  # one cell of 32 px, averaged to 4 x 4 blocks of 8 px
    assert pixels.shape == (2, 1, 1, 48)
    blocks = F.avg_pool2d(images, 8).flatten(1)
    torch.testing.assert_close(pixels[:, 0, 0], blocks)


def test_the_probe_is_the_class_balanced_ridge_solution():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    y = torch.cat([torch.zeros(240, dtype=torch.long), torch.randint(1, 4, (60,), generator=g)])
    predict = fit_dense_probe(x, y, 4, ridge=0.1)
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    a = torch.cat([z, torch.ones(300, 1)], 1).double()
    w = (1 / torch.bincount(y, minlength=4).double())[y]
    w = w * 300 / w.sum()
    gram = a.T @ (w[:, None] * a) + 0.1 * 300 * torch.eye(6, dtype=torch.float64)
    solution = torch.linalg.solve(gram, a.T @ (w[:, None] * F.one_hot(y, 4).double()))
    assert torch.equal(predict(x), (a @ solution).argmax(1))


def test_scores_on_a_hand_example():
    truth = torch.tensor([0, 0, 1, 1, 2, 2])
    sizes = torch.tensor([-1, -1, 0, 1, 0, 1])
    predicted = torch.tensor([0, 1, 1, 1, 0, 2])
    result = score_dense(predicted, truth, sizes, ("small", "large"), 3)
    assert result.objects == {"all": 75.0, "small": 50.0, "large": 100.0}
    assert result.background == 50.0 and result.cells == {"all": 4, "small": 2, "large": 2}
    # IoU: background 1/3, class 1 2/3, class 2 1/2
    assert result.miou == pytest.approx(100 * (1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_a_probe_runs_end_to_end_and_init_is_the_trainers_start(model):
    train = ShapesDataset("train", 32, 8, num_images=40)
    test = ShapesDataset("test", 32, 8, num_images=20)
    rows = probe_dense(model, train, test, sources=("targets", "hypercolumn"))
    assert [(r.source, r.level) for r in rows] == [("targets", level) for level in range(3)] + [
        ("hypercolumn", 0)
    ]
    assert all(0 <= r.objects["all"] <= 100 and 0 <= r.miou <= 100 for r in rows)
    again = untrained_like(model)
    torch.manual_seed(0)
    fresh = create_hjepa(
        "vit_tiny_patch16_224", img_size=32, patch_size=8, depth=2, use_fpn=True,
        predictor_depth=1, num_hierarchies=3, targets="pooled",
    )  # fmt: skip
    for a, b in zip(again.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # under targets: pooled, level 0's target is the (layer-normed) encoder token itself
    shared = dense_features(model, test, ("encoder", "targets"))
    torch.testing.assert_close(shared["encoder"][0], shared["targets"][0], atol=1e-4, rtol=0)


def test_bad_input_is_named_before_any_feature(model):
    shapes = ShapesDataset("test", 32, 8, num_images=10)
    with pytest.raises(ValueError, match="no per-cell labels"):
        probe_dense(model, PhotoCropsDataset("test", img_size=32), shapes)
    with pytest.raises(ValueError, match=r"source='depth' is not a dense source"):
        probe_dense(model, shapes, shapes, sources=("depth",))
    with pytest.raises(ValueError, match=r"level=3 is out of range for source 'targets'"):
        probe_dense(model, shapes, shapes, sources=("targets",), levels=[3])
    with pytest.raises(ValueError, match=r"level=1 is out of range for source 'encoder'"):
        probe_dense(model, shapes, shapes, sources=("encoder",), levels=[1])
    with pytest.raises(ValueError, match=r"images are \(64, 64\), the model's \(32, 32\)"):
        probe_dense(model, ShapesDataset("test", 64, 8, num_images=10), shapes)


def test_a_model_with_1d_pooling_is_refused_before_any_feature(monkeypatch):
    """The seed's 1-D pooling groups tokens of the flattened sequence: its levels are no grid
    of the image's cells, so there is nothing to label per cell."""
    torch.manual_seed(0)
    flat = create_hjepa(
        "vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1, use_fpn=False,
        predictor_depth=1, num_hierarchies=2, targets="pooled", pooling="1d_seed",
    ).eval()  # fmt: skip

    def no_features(*args, **kwargs):
        raise AssertionError("features were computed before the refusal")

    monkeypatch.setattr("hjepa_lite.evaluation.dense_probe.dense_features", no_features)
    shapes = ShapesDataset("test", 32, 8, num_images=4)
    with pytest.raises(ValueError, match=r"needs 2-D pooling \(model.pooling '1d_seed'"):
        probe_dense(flat, shapes, shapes, sources=("targets",))
