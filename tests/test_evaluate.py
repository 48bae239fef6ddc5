"""Frozen-feature evaluation: kNN, linear probe, accuracy per group, RankMe, feature extraction."""

import pytest
import torch
from conftest import tiny_hjepa

from hjepa_lite.data.shapes import SIZES, ShapesDataset
from hjepa_lite.evaluation.evaluate import (
    LevelFeatures,
    accuracy_by_group,
    dataset_features,
    format_probe_table,
    knn_predict,
    linear_probe_predict,
    pixel_features,
    probe_levels,
    rankme,
)


def clusters(n_per_class, num_classes=3, dim=8, spread=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_classes, dim, generator=g) * 3
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=g), labels


def test_knn_and_linear_probe_separate_clusters_and_fail_on_noise():
    train, train_y = clusters(30)
    test, test_y = clusters(10, seed=0)  # same centres, fewer points
    assert (knn_predict(train, train_y, test, k=5) == test_y).all()
    assert (linear_probe_predict(train, train_y, test) == test_y).all()
    g = torch.Generator().manual_seed(0)
    noise, fresh = torch.randn(90, 8, generator=g), torch.randn(300, 8, generator=g)
    fresh_y = torch.randint(0, 3, (300,), generator=g)
    for predict in (knn_predict, linear_probe_predict):
        accuracy = (predict(noise, train_y, fresh) == fresh_y).float().mean()
        assert accuracy < 0.45, f"{predict.__name__} finds structure in noise"


def test_accuracy_by_group_counts_each_group():
    predicted = torch.tensor([0, 1, 1, 0])
    labels = torch.tensor([0, 1, 0, 1])
    groups = torch.tensor([0, 0, 1, 1])
    assert accuracy_by_group(predicted, labels, groups) == {"all": 0.5, "0": 1.0, "1": 0.0}
    assert accuracy_by_group(predicted, labels) == {"all": 0.5}


def test_rankme_is_one_for_a_line_and_near_d_for_isotropic_features():
    line = torch.randn(200, 1) * torch.ones(1, 16)
    assert rankme(line) == pytest.approx(1.0, abs=1e-3)
    assert rankme(torch.randn(5000, 16)) > 15


def test_dataset_features_shapes_and_probe_table():
    model = tiny_hjepa()
    data = ShapesDataset("test", img_size=32, patch_size=8, num_images=36)
    features = dataset_features(model, data, batch_size=16)
    d = model.embed_dim
    assert [tuple(x.shape) for x in features.levels] == [(36, d)] * model.num_levels
    torch.testing.assert_close(
        features.levels[1][:4],
        model.extract_features(torch.stack([data[i][0] for i in range(4)]), 1).mean(1),
    )
    pixels = pixel_features(data, size=8)
    assert pixels.levels[0].shape == (36, 3 * 8 * 8)
    rows = probe_levels(features, features, name="tiny", k=3)
    assert [row.level for row in rows] == list(range(model.num_levels))
    table = format_probe_table(rows, SIZES)
    assert table.count("\n") == 1 + len(rows) and "kNN small" in table


def test_encoder_source_is_the_mean_of_the_tokens_before_the_head():
    model = tiny_hjepa(use_fpn=True)
    data = ShapesDataset("test", img_size=32, patch_size=8, num_images=12)
    (encoder,) = dataset_features(model, data, batch_size=5, source="encoder").levels
    images = torch.stack([data[i][0] for i in range(12)])
    torch.testing.assert_close(encoder, model.target_tokens(images).mean(1))
    level0 = dataset_features(model, data, source="levels").levels[0]
    assert not torch.allclose(encoder, level0, atol=1e-3)  # the head changes the features
    with pytest.raises(ValueError, match=r"source='pixels'.*'levels', 'encoder'"):
        dataset_features(model, data, source="pixels")


def test_probe_table_marks_missing_groups():
    features = LevelFeatures([torch.randn(6, 4)], torch.tensor([0, 1, 2] * 2), None)
    (row,) = probe_levels(features, features, name="no groups", k=1)
    assert row.knn["all"] == 1.0
    assert "nan" in format_probe_table([row], SIZES)
