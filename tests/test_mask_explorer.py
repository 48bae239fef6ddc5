"""The mask explorer (notebook 05) without a browser: its statistics against a hand count, the
properties they must have, the weights they imply, and the widget reacting to its sliders and
showing refused settings (tests/test_browser.py drives it in JupyterLab)."""

import matplotlib
import pytest
import torch

from hjepa_lite.model.geometry import level_grid_sizes
from hjepa_lite.notebook.mask_explorer import MaskExplorer, plot_explorer
from hjepa_lite.notebook.mask_statistics import (
    LEVEL_WEIGHTINGS,
    effective_weights,
    level_maps,
    make_sampler,
    mask_statistics,
)

matplotlib.use("Agg")


def hand_count(target_mask: torch.Tensor, side: int, level: int) -> int:
    """Valid level-``level`` cells of one ``(side * side,)`` mask, by loops: a cell counts if
    every patch it covers (clipped at the grid's edge) is a target."""
    grid = target_mask.view(side, side).tolist()
    step = 2**level
    count = 0
    for top in range(0, side, step):
        for left in range(0, side, step):
            rows = range(top, min(top + step, side))
            cols = range(left, min(left + step, side))
            count += all(grid[r][c] for r in rows for c in cols)
    return count


@pytest.mark.parametrize("side", [8, 7])
def test_statistics_equal_a_hand_count(side):
    sampler = make_sampler(side, num_targets=3, target_scale=(0.2, 0.4))
    stats = mask_statistics(sampler, draws=12, batch=4, seed=3)
    # the same draws again, from the same generator: batches of 4
    generator = torch.Generator().manual_seed(3)
    masks = [sampler(4, generator=generator).target_mask for _ in range(3)]
    targets = torch.cat(masks)
    counts = torch.tensor([[hand_count(t, side, lv) for lv in range(3)] for t in targets])
    assert torch.equal(stats["cells"], counts)
    assert torch.equal(stats["image_any"], (counts > 0).float().mean(0))
    batch_any = [[bool(counts[b * 4 : b * 4 + 4, lv].sum()) for lv in range(3)] for b in range(3)]
    assert torch.equal(stats["batch_any"], torch.tensor(batch_any).float().mean(0))
    torch.testing.assert_close(stats["mean_cells"], counts.float().mean(0))
    sizes = level_grid_sizes((side, side), 3)
    assert stats["level_cells"].tolist() == [h * w for h, w in sizes]
    assert torch.equal(stats["first"].target_mask, masks[0])


def test_a_target_as_large_as_the_context_allows_gives_every_level_loss_cells():
    # A target covering the whole grid leaves no context (the sampler refuses it, see below);
    # a 7x7 block on the 8x8 grid is the largest that leaves some, and it always holds a whole
    # 4x4 level-2 cell, so every draw has loss cells at every level.
    sampler = make_sampler(8, num_targets=1, target_scale=(0.75, 0.78), target_aspect=(1, 1))
    stats = mask_statistics(sampler, draws=64, batch=16)
    assert stats["image_any"].tolist() == [1.0, 1.0, 1.0]
    assert stats["batch_any"].tolist() == [1.0, 1.0, 1.0]
    assert (stats["cells"][:, 2] >= 1).all() and (stats["cells"][:, 0] == 49).all()


def test_small_targets_leave_the_coarsest_level_without_cells():
    stats = mask_statistics(make_sampler(8, num_targets=1, target_scale=(0.05, 0.1)), draws=64)
    assert stats["image_any"][2] == 0 and stats["mean_cells"][2] == 0


@pytest.mark.parametrize("side, targets", [(4, 1), (8, 4), (11, 6), (16, 2)])
def test_frequencies_are_shares_and_levels_nest(side, targets):
    stats = mask_statistics(make_sampler(side, num_targets=targets), draws=128, batch=16)
    for key in ("image_any", "batch_any"):
        assert ((stats[key] >= 0) & (stats[key] <= 1)).all()
    assert (stats["image_any"] <= stats["batch_any"]).all()  # a batch has one if an image has
    assert (stats["image_any"][1:] <= stats["image_any"][:-1]).all()  # coarser: fewer
    assert (stats["mean_cells"] <= stats["level_cells"]).all()
    assert stats["cells"].shape == (128, 3)


def test_the_same_seed_gives_the_same_statistics():
    sampler = make_sampler(8)
    one, two = mask_statistics(sampler, seed=1), mask_statistics(sampler, seed=1)
    assert torch.equal(one["cells"], two["cells"])
    assert not torch.equal(one["cells"], mask_statistics(sampler, seed=2)["cells"])


def test_level_maps_are_shares_and_valid_cells_are_whole_targets():
    masks = make_sampler(7)(5, generator=torch.Generator().manual_seed(0))
    maps = level_maps(masks, 3)
    assert [m.shape for m in maps["valid"]] == [(5, 7, 7), (5, 4, 4), (5, 2, 2)]
    assert torch.equal(maps["valid"][0], masks.target_mask.view(5, 7, 7))
    assert torch.equal(maps["context"][0], (~masks.mask).view(5, 7, 7).float())
    for level in range(3):
        assert torch.equal(maps["valid"][level], maps["target"][level] == 1)
        total = maps["context"][level] + maps["target"][level]
        assert (total <= 1 + 1e-6).all()  # a target patch is never seen


def test_effective_weights():
    stats = mask_statistics(make_sampler(8), draws=256)
    for weights in LEVEL_WEIGHTINGS.values():
        weight = effective_weights(stats, weights, batch=32)
        w = torch.tensor(weights)
        torch.testing.assert_close(weight["per_step"], w * stats["batch_any"])
        torch.testing.assert_close(weight["share"].sum(), torch.tensor(1.0))
        torch.testing.assert_close(weight["per_image"], w * stats["image_any"])
        assert weight["per_cell"][0] == 1
    default, seed = (effective_weights(stats, w)["share"] for w in LEVEL_WEIGHTINGS.values())
    assert seed[2] > default[2]  # the seed's advice moves weight to the coarse level
    with pytest.raises(ValueError, match="2 weights for 3 levels"):
        effective_weights(stats, (1.0, 0.5))


def test_plot_draws_maps_and_charts():
    stats = mask_statistics(make_sampler(8), draws=64)
    fig = plot_explorer(stats, sample=3)
    assert len(fig.axes) == 3 * 3 + 3
    assert fig.axes[8].get_title().endswith("valid")  # the level-2 valid-cell map's count
    matplotlib.pyplot.close(fig)


@pytest.fixture
def explorer():
    return MaskExplorer(draws=64, batch=16)


def test_moving_a_slider_redraws(explorer):
    assert explorer.error is None and explorer.runs == 1
    assert explorer.figure is not None, "the explorer drew nothing"
    before = explorer.stats["cells"].clone()
    explorer.grid.value = 12
    assert explorer.runs == 2 and explorer.stats["level_cells"].tolist() == [144, 36, 9]
    explorer.target_scale.value = (0.3, 0.4)
    assert explorer.runs == 3 and not torch.equal(explorer.stats["cells"], before)
    assert "run 3" in explorer.status.value
    stats, figure = explorer.stats, explorer.figure
    explorer.sample.value = 5  # only redraws
    assert explorer.runs == 3 and explorer.stats is stats and explorer.figure is not figure


def test_an_impossible_setting_shows_the_error_in_the_widget(explorer):
    explorer.target_scale.value = (1.0, 1.0)  # the targets cover the grid: no context left
    assert "could not keep min_context" in explorer.error
    assert "hjepa-error" in explorer.status.value and "cannot be drawn" in explorer.status.value
    assert explorer.stats is None and explorer.figure is None
    explorer.target_scale.value = (0.15, 0.2)  # a valid setting recovers
    assert explorer.error is None and explorer.figure is not None
