"""The loss on visible cells (V-JEPA 2.1's dense loss): where it looks, its weights, its grads."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite.model.geometry import PyramidGeometry, level_grid_sizes
from hjepa_lite.train.context_loss import context_loss, context_weights, distance_to_hidden

GRID = PyramidGeometry((4, 4), num_levels=2)  # 4x4 patches: levels of 4x4 and 2x2 cells


def one_hidden(grid=(4, 4), at=(0, 0)):
    mask = torch.zeros(1, grid[0] * grid[1], dtype=torch.bool)
    mask[0, at[0] * grid[1] + at[1]] = True
    return mask


def test_distance_is_euclidean_to_the_nearest_hidden_patch():
    distance = distance_to_hidden(one_hidden(), (4, 4)).view(4, 4)
    assert distance[0, 0] == 0
    assert distance[0, 1] == 1 and distance[1, 0] == 1
    torch.testing.assert_close(distance[1, 1], torch.tensor(math.sqrt(2)))
    torch.testing.assert_close(distance[3, 3], torch.tensor(math.sqrt(18)))


def test_a_cell_with_a_hidden_patch_weighs_nothing_and_a_visible_cell_the_mean_of_its_patches():
    weights = context_weights(one_hidden(), PyramidGeometry((4, 4), num_levels=2))
    level0 = weights[0].view(4, 4)
    assert level0[0, 0] == 0 and level0[0, 1] == 1
    torch.testing.assert_close(level0[2, 2], torch.tensor(math.sqrt(8) ** -0.5))  # d = sqrt(8)
    level1 = weights[1].view(2, 2)
    assert level1[0, 0] == 0  # covers the hidden patch
    expected = torch.tensor([2.0, 3.0, math.sqrt(5), math.sqrt(10)]).rsqrt().mean()
    torch.testing.assert_close(level1[0, 1], expected)  # patches (0,2) (0,3) (1,2) (1,3)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(2, 6), w=st.integers(2, 6), levels=st.integers(1, 3), seed=st.integers(0, 99))
def test_weights_are_in_0_1_and_zero_exactly_where_a_cell_touches_the_mask(h, w, levels, seed):
    levels = min(levels, 1 + math.ceil(math.log2(max(h, w))))
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(3, h * w, generator=g) < 0.4
    mask[:, 0] = True  # at least one hidden patch
    weights = context_weights(mask, PyramidGeometry((h, w), levels))
    sizes = level_grid_sizes((h, w), levels)
    assert [tuple(x.shape) for x in weights] == [(3, a * b) for a, b in sizes]
    for x in weights:
        assert (x >= 0).all() and (x <= 1).all()
    assert ((weights[0] == 0) == mask).all()


def outputs_for(mask, seed=0, sizes=(16, 4)):
    g = torch.Generator().manual_seed(seed)
    return {
        "predictions": [torch.randn(1, n, 8, generator=g, requires_grad=True) for n in sizes],
        "targets": [torch.randn(1, n, 8, generator=g) for n in sizes],
    }


def test_hidden_cells_do_not_count_and_get_no_gradient():
    mask = one_hidden()
    outputs = outputs_for(mask)
    loss = context_loss(outputs, mask, GRID, [1.0, 0.5])
    loss.backward()
    grad0 = outputs["predictions"][0].grad
    assert grad0[0, 0].abs().sum() == 0  # the hidden patch
    assert grad0[0, 1].abs().sum() > 0
    assert outputs["predictions"][1].grad[0, 0].abs().sum() == 0  # the cell covering it
    changed = {k: [t.detach().clone() for t in v] for k, v in outputs.items()}
    changed["predictions"][0][0, 0] = 1e6
    changed["predictions"][1][0, 0] = -1e6
    torch.testing.assert_close(loss, context_loss(changed, mask, GRID, [1.0, 0.5]))


def test_the_loss_is_the_weighted_mean_error_over_visible_cells():
    mask = one_hidden()
    outputs = outputs_for(mask)
    loss = context_loss(outputs, mask, GRID, [1.0, 0.0], loss_type="mse")
    err = ((outputs["predictions"][0] - outputs["targets"][0]) ** 2).mean(-1)[0]
    weight = context_weights(mask, GRID)[0][0]
    torch.testing.assert_close(loss, (weight * err)[1:].sum() / 15)


def test_perfect_predictions_on_visible_cells_give_zero():
    mask = one_hidden()
    outputs = outputs_for(mask)
    outputs["targets"] = [p.detach().clone() for p in outputs["predictions"]]
    outputs["targets"][0][0, 0] += 5.0  # a hidden cell: ignored
    assert context_loss(outputs, mask, GRID, [1.0, 0.5]).item() == 0.0


def test_the_trainer_adds_the_term_with_its_weight_and_not_without(data_64):
    from conftest import tiny_config

    from hjepa_lite.train.trainer import Trainer

    def first_loss(weight):
        config = tiny_config(steps=1)
        config["loss"] = {"context_weight": weight}
        trainer = Trainer(config, progress=False, dataset=data_64)
        trainer.fit()
        return trainer.history["loss"][0], trainer.history["loss_0"][0]

    plain, plain_0 = first_loss(0.0)
    with_term, with_term_0 = first_loss(1.0)
    assert with_term > plain  # the same step (same seed, masks, weights) plus a positive term
    assert with_term_0 == plain_0  # the hidden cells' loss is the same


@pytest.fixture(scope="module")
def data_64():
    from hjepa_lite.data.shapes import ShapesDataset

    return ShapesDataset("train", img_size=64, num_images=16)
