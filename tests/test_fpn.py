"""The hierarchy head: shapes on many grids, the FPN equations, and parameter counts."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite import FeaturePyramid, count_parameters, level_grid_sizes
from hjepa_lite.model.geometry import max_levels
from hjepa_lite.model.params import head_breakdown
from hjepa_lite.model.pyramid import upsample_tokens


@settings(max_examples=30, deadline=None)
@given(
    grid=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    embed_dim=st.sampled_from([8, 24]),
    feature_dim=st.sampled_from([None, 4, 16]),
    fusion=st.sampled_from(["add", "concat"]),
    upsample=st.sampled_from(["bilinear", "nearest"]),
    use_fpn=st.booleans(),
    data=st.data(),
)
def test_output_shapes_per_level(grid, embed_dim, feature_dim, fusion, upsample, use_fpn, data):
    num_levels = data.draw(st.integers(1, max_levels(grid)))
    head = FeaturePyramid(
        embed_dim, grid, num_levels, use_fpn, feature_dim, fusion, upsample=upsample
    )
    outs = head(torch.randn(2, grid[0] * grid[1], embed_dim))
    sizes = level_grid_sizes(grid, num_levels)
    assert [tuple(o.shape) for o in outs] == [(2, h * w, embed_dim) for h, w in sizes]


@pytest.mark.parametrize("fusion", ["add", "concat"])
def test_fpn_follows_the_equations(fusion):
    """Recompute a 3-level FPN by hand from the module's own weights (nearest upsampling)."""
    torch.manual_seed(0)
    head = FeaturePyramid(6, (4, 4), 3, True, 5, fusion, upsample="nearest")
    tokens = torch.randn(1, 16, 6)
    grid = tokens.view(1, 4, 4, 6)
    level1 = grid.view(1, 2, 2, 2, 2, 6).mean((2, 4))  # (1, 2, 2, 6): 2x2 blocks
    level2 = grid.mean((1, 2), keepdim=True)  # (1, 1, 1, 6)

    def lin_norm(seq, x):
        return F.layer_norm(seq[0](x), (5,), seq[1].weight, seq[1].bias)

    def fuse(level, lateral, top_down):
        if fusion == "add":
            return lateral + top_down
        return head.top_down[level].fuse.proj(torch.cat([lateral, top_down], -1))

    def top_down(level, up):
        return lin_norm(head.top_down[level].layer, up)

    fpn2 = lin_norm(head.lateral[2], level2)
    up = fpn2.expand(1, 2, 2, 5)  # every level-1 cell's parent is the single level-2 cell
    fpn1 = fuse(1, lin_norm(head.lateral[1], level1), top_down(1, up))
    up = fpn1.repeat_interleave(2, 1).repeat_interleave(2, 2)  # parents of level-0 cells
    fpn0 = fuse(0, lin_norm(head.lateral[0], grid), top_down(0, up))
    expected = [head.project[i](x).reshape(1, -1, 6) for i, x in enumerate([fpn0, fpn1, fpn2])]
    for got, want in zip(head(tokens), expected, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("upsample", ["bilinear", "nearest"])
@pytest.mark.parametrize("grid", [(8, 8), (7, 5)])
def test_top_down_linear_on_the_coarse_grid_equals_linear_after_upsampling(upsample, grid):
    """TopDownStep.from_coarser runs its Linear before the interpolation (4x fewer cells); it
    must equal the textbook order layer(upsample(x)), odd grids included."""
    torch.manual_seed(0)
    head = FeaturePyramid(6, grid, 3, True, [5, 4, 3], "add", upsample=upsample)
    for level in range(2):
        coarse = torch.randn(
            2, math.prod(head.level_sizes[level + 1]), head.feature_dims[level + 1]
        )
        fine_size, coarse_size = head.level_sizes[level : level + 2]
        up = upsample_tokens(coarse, coarse_size, fine_size, upsample)
        step = head.top_down[level]
        textbook = step.layer(up)
        torch.testing.assert_close(step.from_coarser(coarse), textbook)


def test_parameter_counts_are_exact():
    d, f, levels = 12, 8, 3
    pool = FeaturePyramid(d, (8, 8), levels)
    add = FeaturePyramid(d, (8, 8), levels, True, f, "add")
    concat = FeaturePyramid(d, (8, 8), levels, True, f, "concat")
    linear_norm = lambda i, o: i * o + o + 2 * o  # noqa: E731 (weight, bias, LayerNorm)
    assert count_parameters(pool) == levels * (d * d + d)
    fpn_add = levels * linear_norm(d, f) + (levels - 1) * linear_norm(f, f)
    assert count_parameters(add) == fpn_add + levels * (f * d + d)
    fuse = (levels - 1) * (2 * f * f + f)
    assert count_parameters(concat) == count_parameters(add) + fuse


@pytest.mark.parametrize(
    ("fusion", "upsample", "bottom_up"),
    [
        ("add", "bilinear", False),
        ("concat", "nearest", True),
        ("add", "transposed_conv", True),
        ("attention", "bilinear", False),
    ],
)
def test_head_breakdown_counts_every_parameter_once(fusion, upsample, bottom_up):
    head = FeaturePyramid(12, (7, 7), 3, True, [8, 4, 4], fusion, upsample, bottom_up=bottom_up)
    parts = head_breakdown(head)
    assert sum(n for key, n in parts.items() if key != "fpn") == count_parameters(head)
    assert parts["fpn"] == count_parameters(head) - parts["project"]
    assert (parts["upsample"] > 0) == (upsample == "transposed_conv")
    assert (parts["fuse"] > 0) == (fusion != "add")
    assert (parts["bottom_up"] > 0) == bottom_up
    pool = head_breakdown(FeaturePyramid(12, (7, 7), 3))
    assert pool["fpn"] == 0 and pool["project"] == count_parameters(FeaturePyramid(12, (7, 7), 3))


def test_bad_choices_name_the_field_and_the_choices():
    with pytest.raises(ValueError, match=r"fusion_method='sum'.*\('add', 'concat', 'attention'\)"):
        FeaturePyramid(8, (4, 4), 2, True, fusion_method="sum")
    with pytest.raises(ValueError, match="upsample='cubic'.*valid choices"):
        FeaturePyramid(8, (4, 4), 2, True, upsample="cubic")


def test_a_new_fusion_is_one_class_and_one_registry_entry(monkeypatch):
    """Notebook 04's gated fusion, plugged in: FeaturePyramid resolves the name through FUSIONS."""
    from torch import nn

    from hjepa_lite.model import fusion

    class GatedFusion(fusion.Fusion):
        def __init__(self, width):
            super().__init__()
            self.gate = nn.Linear(2 * width, width)

        @classmethod
        def for_step(cls, feature_dim, num_heads, sizes, cells):
            return cls(feature_dim)

        def forward(self, lateral, top_down):
            g = torch.sigmoid(self.gate(torch.cat([lateral, top_down], dim=-1)))
            return g * lateral + (1 - g) * top_down

    monkeypatch.setitem(fusion.FUSIONS, "gated", GatedFusion)
    head = FeaturePyramid(16, (4, 4), 3, use_fpn=True, feature_dim=8, fusion_method="gated")
    assert [type(step.fuse) for step in head.top_down] == [GatedFusion, GatedFusion]
    assert [tuple(x.shape) for x in head(torch.randn(2, 16, 16))] == [
        (2, 16, 16),
        (2, 4, 16),
        (2, 1, 16),
    ]


@pytest.mark.parametrize(
    ("fusion_method", "upsample", "runs"),
    [
        ("add", "nearest", "nearest"),
        ("concat", "transposed_conv", "transposed_conv"),
        ("attention", "bilinear", None),
        ("attention", "nearest", None),
    ],
)
def test_a_fusion_that_resamples_runs_no_upsampler(fusion_method, upsample, runs):
    from hjepa_lite.model.fpn import step_upsample
    from hjepa_lite.model.resample import UPSAMPLERS, NoUpsample

    assert step_upsample(fusion_method, upsample) == runs
    head = FeaturePyramid(
        16, (4, 4), 3, use_fpn=True, fusion_method=fusion_method, upsample=upsample
    )
    expected = NoUpsample if runs is None else UPSAMPLERS[runs]
    assert all(type(step.upsample) is expected for step in head.top_down)
