"""Per-cell truth: DenseLabels.cells against a loop over cells, and its geometry."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite.data.dense_labels import BACKGROUND, MIN_COVER, DenseLabels
from hjepa_lite.model.geometry import level_grid_sizes


def random_truth(n, height, width, classes, sizes, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes + 1, (n, height, width), generator=g)
    pixel_sizes = torch.randint(0, sizes, (n, height, width), generator=g)
    pixel_sizes = torch.where(labels == BACKGROUND, -1, pixel_sizes)
    names = tuple(f"c{k}" for k in range(classes)), tuple(f"s{k}" for k in range(sizes))
    return DenseLabels(labels, pixel_sizes, *names)


def reference_cells(truth, cell):
    """One cell at a time: the rule of the module's docstring, written plainly."""
    n, height, width = truth.pixel_labels.shape
    rows, cols = -(-height // cell), -(-width // cell)
    labels = torch.zeros(n, rows, cols, dtype=torch.long)
    sizes = torch.full((n, rows, cols), -1, dtype=torch.long)
    for i in range(n):
        for r in range(rows):
            for c in range(cols):
                window = (slice(r * cell, (r + 1) * cell), slice(c * cell, (c + 1) * cell))
                pixels = truth.pixel_labels[i][window].flatten()
                counts = torch.bincount(pixels, minlength=len(truth.classes) + 1)[1:]
                best = int(counts.argmax())
                if counts[best] / pixels.numel() >= MIN_COVER:
                    labels[i, r, c] = best + 1
                    of_best = truth.pixel_sizes[i][window].flatten()[pixels == best + 1]
                    sizes[i, r, c] = int(
                        torch.bincount(of_best, minlength=len(truth.sizes)).argmax()
                    )
    return labels, sizes


@settings(max_examples=40, deadline=None)
@given(
    patches=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    patch=st.sampled_from([1, 2, 4]),
    level=st.integers(0, 3),
    classes=st.integers(1, 4),
    sizes=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_cells_equal_a_loop_over_cells(patches, patch, level, classes, sizes, seed):
    truth = random_truth(2, patches[0] * patch, patches[1] * patch, classes, sizes, seed)
    labels, cell_sizes = truth.cells(patch, level)
    expected_labels, expected_sizes = reference_cells(truth, patch * 2**level)
    # ties go to the first class and the first size in both
    assert torch.equal(labels, expected_labels)
    assert torch.equal(cell_sizes, expected_sizes)


def test_cells_follow_the_pyramid_geometry_on_odd_grids():
    truth = random_truth(1, 7 * 4, 5 * 4, classes=2, sizes=1, seed=0)
    grids = level_grid_sizes((7, 5), num_levels=3)
    for level, grid in enumerate(grids):
        assert tuple(truth.cells(4, level)[0].shape[1:]) == grid


def test_an_object_on_a_quarter_of_a_cell_names_it_and_less_does_not():
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    labels[0, :4, :4] = 2  # a quarter of the one 8 x 8 cell
    labels[1, :3, :4] = 2  # less than a quarter
    sizes = torch.where(labels > 0, 1, -1)
    truth = DenseLabels(labels, sizes, ("a", "b"), ("small", "large"))
    cell_labels, cell_sizes = truth.cells(patch_size=8, level=0)
    assert cell_labels.flatten().tolist() == [2, BACKGROUND]
    assert cell_sizes.flatten().tolist() == [1, -1]


def test_partial_edge_cells_count_only_their_own_pixels():
    labels = torch.zeros(1, 12, 12, dtype=torch.long)
    labels[0, 8:, 8:] = 1  # fills the 4 x 4 corner cell of level 1 (cells of 8 pixels)
    truth = DenseLabels(labels, torch.where(labels > 0, 0, -1), ("a",), ("s",))
    cell_labels, _ = truth.cells(patch_size=4, level=1)
    assert cell_labels[0].tolist() == [[0, 0], [0, 1]]


@pytest.mark.parametrize(
    ("patch", "level", "message"),
    [(5, 0, "must divide"), (0, 0, "must divide"), (4, -1, "level=-1")],
)
def test_bad_geometry_is_a_value_error_naming_it(patch, level, message):
    truth = random_truth(1, 16, 16, classes=1, sizes=1, seed=0)
    with pytest.raises(ValueError, match=message):
        truth.cells(patch, level)


def test_inconsistent_pixel_truth_is_rejected():
    labels = torch.ones(1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="-1 exactly where"):
        DenseLabels(labels, torch.full_like(labels, -1), ("a",), ("s",))
    with pytest.raises(ValueError, match="beyond"):
        DenseLabels(labels * 3, torch.zeros_like(labels), ("a",), ("s",))


def test_shapes_cells_hold_the_image_class_and_small_objects_fill_fine_cells_only():
    from hjepa_lite.data.shapes import SIZES, ShapesDataset

    data = ShapesDataset("test", img_size=64, patch_size=8, num_images=360)
    truth = data.dense
    assert truth.classes == data.classes and truth.sizes == SIZES
    fine, fine_sizes = truth.cells(8, 0)
    named = fine > 0
    image_class = data.labels[:, None, None].expand_as(fine) + 1
    assert torch.equal(fine[named], image_class[named])  # one class per image
    assert torch.equal(fine_sizes[named], data.sizes[:, None, None].expand_as(fine)[named])
    # nearly every image has object cells at level 0 (a small object straddling four cells
    # may cover under a quarter of each); large objects keep theirs at level 2, small ones not
    assert named.flatten(1).any(1).float().mean() > 0.95
    coarse, _ = truth.cells(8, 2)
    large, small = data.sizes == SIZES.index("large"), data.sizes == SIZES.index("small")
    assert (coarse[large] > 0).flatten(1).any(1).float().mean() > 0.9
    assert not (coarse[small] > 0).any()
