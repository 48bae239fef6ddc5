"""The hierarchical loss: only valid target cells count; weights; no gradient to targets."""

import pytest
import torch
from conftest import half_mask, tiny_hjepa

from hjepa_lite.train.loss import LOSS_TYPES, hierarchical_loss


def random_outputs(valid_fraction=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = [16, 4, 1]
    return {
        "predictions": [torch.randn(2, n, 8, generator=g, requires_grad=True) for n in sizes],
        "targets": [torch.randn(2, n, 8, generator=g) for n in sizes],
        "target_masks": [torch.rand(2, n, generator=g) < valid_fraction for n in sizes],
    }


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_changing_anything_outside_valid_cells_leaves_the_loss_unchanged(loss_type):
    outputs = random_outputs()
    total, per_level = hierarchical_loss(outputs, [1.0, 0.5, 0.25], loss_type)
    changed = {k: [t.detach().clone() for t in v] for k, v in outputs.items()}
    for level, valid in enumerate(outputs["target_masks"]):
        changed["predictions"][level][~valid] = 1e6
        changed["targets"][level][~valid] = -1e6
    total2, per_level2 = hierarchical_loss(changed, [1.0, 0.5, 0.25], loss_type)
    torch.testing.assert_close(total, total2)
    torch.testing.assert_close(torch.stack(per_level), torch.stack(per_level2), equal_nan=True)


def test_loss_is_the_weighted_mean_over_valid_cells():
    outputs = random_outputs()
    total, per_level = hierarchical_loss(outputs, [1.0, 0.5, 0.25], "mse")
    expected = []
    for pred, target, valid in zip(*outputs.values(), strict=True):
        cells = ((pred - target) ** 2).mean(-1)[valid]
        expected.append(cells.mean() if cells.numel() else torch.tensor(float("nan")))
    torch.testing.assert_close(
        torch.stack(per_level), torch.stack(expected).detach(), equal_nan=True
    )
    weights = torch.tensor([1.0, 0.5, 0.25])
    torch.testing.assert_close(total, (weights * torch.stack(expected)).nansum())


def test_a_level_without_valid_cells_adds_zero_and_reports_nan():
    outputs = random_outputs()
    outputs["target_masks"][2][:] = False
    total, per_level = hierarchical_loss(outputs, [1.0, 0.5, 0.25])
    assert torch.isfinite(total) and per_level[2].isnan()
    torch.testing.assert_close(total, per_level[0] + 0.5 * per_level[1], check_dtype=False)
    total.backward()
    assert torch.isfinite(outputs["predictions"][2].grad).all()


def test_model_loss_sends_no_gradient_into_the_target_branch():
    model = tiny_hjepa(img_size=64, use_fpn=True)
    outputs = model(torch.randn(2, 3, 64, 64), half_mask(2, 64))
    total, _ = hierarchical_loss(outputs, [1.0, 0.5, 0.25])
    total.backward()
    assert all(p.grad is None for p in model.target_encoder.parameters())
    assert all(p.grad is None for p in model.target_hierarchy.parameters())


def test_bad_arguments():
    outputs = random_outputs()
    with pytest.raises(ValueError, match=r"loss_type='l1'.*\('smooth_l1', 'mse'\)"):
        hierarchical_loss(outputs, [1.0, 0.5, 0.25], "l1")
    with pytest.raises(ValueError, match=r"3 levels but 2 weights"):
        hierarchical_loss(outputs, [1.0, 0.5])
