"""photo_objects: real textures as objects of three sizes on real backgrounds, per-pixel truth,
train and test from disjoint regions of every photo."""

import pytest
import torch

from hjepa_lite.data import photo_objects
from hjepa_lite.data.datasets import build_dataset
from hjepa_lite.data.photo_crops import split_blocks
from hjepa_lite.data.photo_objects import PhotoObjectsDataset, render_photo_objects


@pytest.fixture(scope="module")
def test_set():
    return PhotoObjectsDataset("test")


def test_images_truth_and_labels_agree(test_set):
    n = photo_objects.SPLITS["test"][0]
    assert test_set.images.shape == (n, 3, 64, 64) and test_set.images.dtype == torch.uint8
    dense = test_set.dense  # DenseLabels checks sizes are -1 exactly on background
    assert dense.image_size == (64, 64) and len(dense) == n
    objects = dense.pixel_labels > 0
    assert objects.flatten(1).any(1).all(), "every image holds an object"
    assert 0.05 < objects.float().mean() < 0.5
    counts = torch.stack([(dense.pixel_labels == c + 1).flatten(1).sum(1) for c in range(12)], 1)
    assert torch.equal(counts.argmax(1), test_set.labels), "label = the largest class"
    assert set(test_set.labels.tolist()) == set(range(len(photo_objects.CLASSES)))
    assert set(dense.pixel_sizes.unique().tolist()) == {-1, 0, 1, 2}


def test_sizes_are_relative_to_the_patch(test_set):
    """Small objects (1-1.5 patches) name level-0 cells and almost never a level-2 cell;
    large ones (3.5-5 patches) name cells at every level."""
    per_level = [test_set.dense.cells(patch_size=8, level=level)[1] for level in range(3)]
    small = [(sizes == 0).sum().item() for sizes in per_level]
    large = [(sizes == 2).sum().item() for sizes in per_level]
    assert small[0] > 500 and small[2] <= 0.01 * small[0]
    assert all(count > 100 for count in large)


def test_train_and_test_take_texture_and_background_from_their_own_blocks(monkeypatch):
    """Every crop (texture or background) comes from a block of the split being rendered;
    the background photos' train and test blocks are disjoint, as the class photos' are."""
    seen = []
    crop = photo_objects._crop

    def recording(photo, blocks, side, out, g):
        seen.append(blocks)
        return crop(photo, blocks, side, out, g)

    monkeypatch.setattr(photo_objects, "_crop", recording)
    monkeypatch.setitem(photo_objects.SPLITS, "test", (40, 12))
    render_photo_objects("test")
    allowed = [blocks["test"] for _, blocks in photo_objects._backgrounds()]
    allowed += [blocks["test"] for blocks in split_blocks()]
    assert seen and all(any(b is a for a in allowed) for b in seen)
    for _, blocks in photo_objects._backgrounds():
        assert blocks["test"] and not set(blocks["test"]) & set(blocks["train"])


def test_rendering_is_deterministic(monkeypatch):
    monkeypatch.setitem(photo_objects.SPLITS, "test", (20, 12))
    first, second = render_photo_objects("test"), render_photo_objects("test")
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.pixel_labels, second.pixel_labels)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"split='val'.*\('train', 'test'\)"):
        render_photo_objects("val")
    with pytest.raises(ValueError, match="img_size=32 must hold a large object"):
        render_photo_objects("test", img_size=32, patch_size=8)


def test_build_dataset_serves_it_with_dense_truth():
    data = build_dataset("photo_objects", "test", img_size=64)
    image, label = data[0]
    assert image.shape == (3, 64, 64) and 0 <= label < 12
    assert data.dense.pixel_labels.shape == (len(data), 64, 64)
