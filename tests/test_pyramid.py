"""The pooling hierarchy: 2x2 groups on the 2-D grid, odd sizes, the seed's 1-D flaw, masks."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite import (
    build_pyramid,
    level_grid_sizes,
    pool_mask,
    pooling_groups,
    target_mask_pyramid,
    upsample_tokens,
)
from hjepa_lite.model.geometry import max_levels

grids = st.tuples(st.integers(1, 15), st.integers(1, 15))


def group_means(tokens, groups, num_cells):
    """Reference pooling: average the level-0 tokens of each group, by explicit loop."""
    flat_groups = groups.flatten()
    return torch.stack(
        [tokens[:, flat_groups == cell].mean(dim=1) for cell in range(num_cells)], dim=1
    )


def test_level1_cell_averages_its_own_2x2_block():
    h, w = 6, 8
    tokens = torch.randn(2, h * w, 5)
    levels, sizes = build_pyramid(tokens, (h, w), num_levels=2)
    grid = tokens.view(2, h, w, 5)
    level1 = levels[1].view(2, h // 2, w // 2, 5)
    for i in range(h // 2):
        for j in range(w // 2):
            block = grid[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].reshape(2, 4, 5)
            torch.testing.assert_close(level1[:, i, j], block.mean(1))
    assert sizes == [(6, 8), (3, 4)]


@settings(max_examples=40, deadline=None)
@given(grid=grids, pooling=st.sampled_from(["2d", "1d_seed"]))
def test_pooling_equals_group_means_on_any_grid(grid, pooling):
    num_levels = min(3, max_levels(grid, pooling))
    tokens = torch.randn(2, grid[0] * grid[1], 3, dtype=torch.float64)
    levels, sizes = build_pyramid(tokens, grid, num_levels, pooling)
    for level, groups in enumerate(pooling_groups(grid, num_levels, pooling)):
        num_cells = sizes[level][0] * sizes[level][1]
        assert levels[level].shape == (2, num_cells, 3)
        assert set(groups.flatten().tolist()) == set(range(num_cells)), "every cell is used"
        torch.testing.assert_close(levels[level], group_means(tokens, groups, num_cells))


@settings(max_examples=40, deadline=None)
@given(grid=grids)
def test_2d_groups_never_cross_a_row_and_are_squares(grid):
    h, w = grid
    num_levels = max_levels(grid, "2d")
    for level, groups in enumerate(pooling_groups(grid, num_levels, "2d")):
        side = 2**level
        rows = torch.arange(h).view(h, 1).expand(h, w)
        for cell in groups.unique():
            cell_rows = rows[groups == cell]
            # A cell's patches lie within one band of 2**level image rows.
            assert cell_rows.min() // side == cell_rows.max() // side
            assert (groups == cell).sum() <= side * side


def test_odd_grid_7_pools_to_4_then_2_then_1():
    assert level_grid_sizes((7, 7), 4) == [(7, 7), (4, 4), (2, 2), (1, 1)]
    tokens = torch.arange(49.0).view(1, 49, 1)
    levels, _ = build_pyramid(tokens, (7, 7), 2)
    corner = levels[1].view(4, 4)
    assert corner[3, 3] == 48.0  # the last cell covers the single patch (6, 6)
    assert corner[0, 3] == (6.0 + 13.0) / 2  # a 2x1 edge cell averages only what exists


def test_too_many_levels_is_a_clear_error():
    with pytest.raises(ValueError, match=r"num_hierarchies=5 .*8x8.*1\.\.4"):
        level_grid_sizes((8, 8), 5)
    with pytest.raises(ValueError, match="pooling='3d'.*valid choices"):
        level_grid_sizes((8, 8), 2, "3d")


def test_seed_1d_pooling_joins_rows_on_14x14():
    """The seed's measured flaw: on 14x14, 7 of the 49 level-2 groups span two image rows."""
    grid = (14, 14)
    groups = pooling_groups(grid, 3, "1d_seed")
    assert level_grid_sizes(grid, 3, "1d_seed") == [(1, 196), (1, 98), (1, 49)]
    rows = torch.arange(14).view(14, 1).expand(14, 14)
    crossing = [c for c in range(49) if rows[groups[2] == c].unique().numel() > 1]
    assert len(crossing) == 7
    # Level 1 of the seed pairs consecutive tokens: 14 per row -> "14x7", no crossing yet.
    assert groups[1].unique().numel() == 98
    # The 2-D pyramid has no crossing groups at all.
    groups_2d = pooling_groups(grid, 3, "2d")
    for c in range(16):
        assert rows[groups_2d[2] == c].unique().numel() <= 4


def test_seed_1d_pooling_matches_avg_pool1d_on_the_sequence():
    tokens = torch.randn(2, 196, 4)
    levels, _ = build_pyramid(tokens, (14, 14), 3, "1d_seed")
    seq = tokens.transpose(1, 2)
    expected = torch.nn.functional.avg_pool1d(torch.nn.functional.avg_pool1d(seq, 2), 2)
    torch.testing.assert_close(levels[2], expected.transpose(1, 2))


@settings(max_examples=40, deadline=None)
@given(grid=grids)
def test_nearest_upsampling_gives_every_fine_cell_its_parent(grid):
    num_levels = min(3, max_levels(grid, "2d"))
    sizes = level_grid_sizes(grid, num_levels)
    groups = pooling_groups(grid, num_levels)
    for level in range(1, num_levels):
        coarse = torch.randn(1, sizes[level][0] * sizes[level][1], 2)
        fine_size = sizes[level - 1]
        up = upsample_tokens(coarse, sizes[level], fine_size, mode="nearest")
        # parent of a level-(l-1) cell = the level-l group of any patch inside it
        parent = torch.empty(fine_size[0] * fine_size[1], dtype=torch.long)
        parent[groups[level - 1].flatten()] = groups[level].flatten()
        torch.testing.assert_close(up[0], coarse[0, parent])


def upsampling_weights(size, out_size, mode):
    """The (N_fine, N_coarse) matrix of the upsampling: column c = upsample(one-hot cell c)."""
    n = size[0] * size[1]
    return upsample_tokens(torch.eye(n, dtype=torch.float64).unsqueeze(0), size, out_size, mode)[0]


def every_upsampling_step():
    """(coarse size, fine size, parent of each fine cell) for every level step of every grid
    1..32 x 1..32 and every level count, in both pooling layouts."""
    for h in range(1, 33):
        for w in range(1, 33):
            for pooling in ("2d", "1d_seed"):
                levels = max_levels((h, w), pooling)
                sizes = level_grid_sizes((h, w), levels, pooling)
                groups = pooling_groups((h, w), levels, pooling)
                for level in range(1, levels):
                    parent = torch.empty(math.prod(sizes[level - 1]), dtype=torch.long)
                    parent[groups[level - 1].flatten()] = groups[level].flatten()
                    yield sizes[level], sizes[level - 1], parent


@pytest.mark.parametrize(("mode", "least"), [("nearest", 1.0), ("bilinear", 0.5)])
def test_upsampling_follows_the_pooling_geometry_on_every_grid(mode, least):
    """Every fine cell takes at least `least` of its top-down input from its own parent
    (the coarse cell that pooled it), and the weights of each fine cell sum to 1."""
    seen = set()
    for size, out_size, parent in every_upsampling_step():
        if (size, out_size) in seen:
            continue
        seen.add((size, out_size))
        weights = upsampling_weights(size, out_size, mode)
        own = weights[torch.arange(len(parent)), parent]
        assert own.min() >= least - 1e-12, (size, out_size, own.min().item())
        torch.testing.assert_close(weights.sum(1), torch.ones(len(parent), dtype=torch.float64))


def test_bilinear_from_4x4_to_7x7_keeps_each_cell_on_its_parent():
    """The seed's ViT-B/16 at 224 px: levels 14 -> 7 -> 4. Stretching 4 cells over 7 gave one
    fine cell only 12.8 % of its parent; the pooling geometry gives each at least 0.75**2."""
    size, out_size = (4, 4), (7, 7)
    parent = pooling_groups((7, 7), 2)[1].flatten()
    own = upsampling_weights(size, out_size, "bilinear")[torch.arange(49), parent]
    assert own.min() == pytest.approx(0.75**2)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 16), w=st.integers(1, 16))
def test_bilinear_on_even_grids_is_plain_interpolation_bit_for_bit(h, w):
    tokens = torch.randn(2, h * w, 3)
    grid = tokens.view(2, h, w, 3).permute(0, 3, 1, 2)
    plain = torch.nn.functional.interpolate(grid, size=(2 * h, 2 * w), mode="bilinear")
    expected = plain.permute(0, 2, 3, 1).reshape(2, 4 * h * w, 3)
    assert torch.equal(upsample_tokens(tokens, (h, w), (2 * h, 2 * w), "bilinear"), expected)


def test_bilinear_upsampling_blends_2d_neighbours_not_rows():
    """A coarse map that is constant along each row stays constant along rows after bilinear
    upsampling in 2-D (no blending across rows of the same height); the seed's 1-D layout
    mixes rows."""
    coarse = torch.arange(4.0).view(4, 1).expand(4, 4).reshape(1, 16, 1)
    up = upsample_tokens(coarse, (4, 4), (7, 7), mode="bilinear").view(7, 7)
    assert torch.allclose(up, up[:, :1].expand(7, 7))
    assert up[0, 0] < up[-1, 0]
    with pytest.raises(ValueError, match="valid"):
        upsample_tokens(coarse, (4, 4), (7, 7), mode="cubic")


@settings(max_examples=40, deadline=None)
@given(grid=grids, data=st.data())
def test_level_target_mask_requires_whole_area(grid, data):
    h, w = grid
    num_levels = min(3, max_levels(grid, "2d"))
    bits = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    mask = torch.tensor(bits).view(1, h * w)
    masks = target_mask_pyramid(mask, grid, num_levels)
    for level, groups in enumerate(pooling_groups(grid, num_levels)):
        num_cells = math.prod(level_grid_sizes(grid, num_levels)[level])
        for cell in range(num_cells):
            expected = bool(mask[0, groups.flatten() == cell].all())
            assert bool(masks[level][0, cell]) == expected


def test_pool_mask_edge_cells_use_only_existing_patches():
    mask = torch.zeros(1, 9, dtype=torch.bool)
    mask[0, 8] = True  # patch (2, 2) of a 3x3 grid is the whole edge cell (1, 1)
    pooled = pool_mask(mask, (3, 3))
    assert pooled.view(2, 2).tolist() == [[False, False], [False, True]]
