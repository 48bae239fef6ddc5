"""PyramidGeometry: the level sizes, cells, factor and layout of a pyramid, computed once."""

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite.config import DEFAULT_POOLING, Pooling, choices
from hjepa_lite.model.geometry import POOLINGS, PyramidGeometry, level_grid_sizes, max_levels
from hjepa_lite.model.pyramid import build_pyramid, pooling_groups


@st.composite
def geometries(draw):
    grid = draw(st.tuples(st.integers(1, 20), st.integers(1, 20)))
    pooling = draw(st.sampled_from(choices(Pooling)))
    levels = draw(st.integers(1, max_levels(grid, pooling)))
    return PyramidGeometry(grid, levels, pooling)


@settings(max_examples=200, deadline=None)
@given(geometries())
def test_every_level_is_the_finer_one_pooled_by_the_factor_rounding_up(geometry):
    sizes, (fh, fw) = geometry.level_sizes, geometry.factor
    assert len(sizes) == len(geometry.num_cells) == geometry.num_levels
    assert sizes[0] == geometry.layout.layout(geometry.grid_size)
    for (h, w), (ch, cw) in zip(sizes, sizes[1:], strict=False):
        assert (ch, cw) == (math.ceil(h / fh), math.ceil(w / fw))
        if h % fh == 0 and w % fw == 0:  # even: a coarse cell is exactly factor fine cells
            assert (ch * fh, cw * fw) == (h, w)
    assert all(h >= 1 and w >= 1 for h, w in sizes)
    assert geometry.num_cells == tuple(h * w for h, w in sizes)
    assert list(sizes) == level_grid_sizes(
        geometry.grid_size, geometry.num_levels, geometry.pooling
    )


@settings(max_examples=200, deadline=None)
@given(geometries())
def test_each_cell_covers_factor_to_the_level_patches_and_every_cell_has_one(geometry):
    rows, cols = geometry.layout.layout(geometry.grid_size)
    for level, ((h, w), (ph, pw)) in enumerate(
        zip(geometry.level_sizes, geometry.cell_patches, strict=True)
    ):
        assert (ph, pw) == (geometry.factor[0] ** level, geometry.factor[1] ** level)
        assert h * ph >= rows > (h - 1) * ph and w * pw >= cols > (w - 1) * pw
    groups = pooling_groups(geometry.grid_size, geometry.num_levels, geometry.pooling)
    assert [g.unique().numel() for g in groups] == list(geometry.num_cells)


def test_it_agrees_with_the_pooled_pyramid_and_is_frozen():
    geometry = PyramidGeometry((7, 5), 3)
    levels, sizes = build_pyramid(torch.randn(2, 35, 4), (7, 5), 3)
    assert sizes == list(geometry.level_sizes) == [(7, 5), (4, 3), (2, 2)]
    assert [x.shape[1] for x in levels] == list(geometry.num_cells)
    assert geometry.pooling == DEFAULT_POOLING and geometry.layout is POOLINGS["2d"]
    assert PyramidGeometry((2, 4), 2, "1d_seed").level_sizes == ((1, 8), (1, 4))
    with pytest.raises(dataclasses.FrozenInstanceError):
        geometry.num_levels = 2
    assert geometry == PyramidGeometry([7, 5], 3)  # a list grid is read as the same tuple


def test_a_grid_too_small_or_an_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="num_hierarchies=5 does not fit"):
        PyramidGeometry((8, 8), 5)
    with pytest.raises(ValueError, match="pooling"):
        PyramidGeometry((8, 8), 2, "3d")
