"""The seed's four "Future Enhancements": learned upsampling, attention fusion, per-level
widths and PANet's bottom-up path. Shapes on even and odd grids, exact cell alignment,
gradient flow, and the equivalences that pin down what each one computes."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite import FeaturePyramid, create_hjepa, hierarchical_loss, level_grid_sizes
from hjepa_lite.core.grid import cell_centre_sincos
from hjepa_lite.model.fusion import CrossAttentionFusion
from hjepa_lite.model.geometry import max_levels
from hjepa_lite.model.resample import StridedConvDownsample, TransposedConvUpsample

OPTIONS = [  # (fusion_method, upsample, bottom_up)
    ("add", "transposed_conv", False),
    ("concat", "transposed_conv", False),
    ("attention", "bilinear", False),
    ("add", "bilinear", True),
    ("attention", "nearest", True),
    ("concat", "transposed_conv", True),
]


def dependence(fn, x: torch.Tensor, out_index: int) -> torch.Tensor:
    """Which input positions output position ``out_index`` depends on: ``(N_in,)`` bool."""
    x = x.clone().requires_grad_(True)
    fn(x)[0, out_index].sum().backward()
    return x.grad[0].abs().sum(-1) > 0


@settings(max_examples=40, deadline=None)
@given(
    grid=st.tuples(st.integers(1, 11), st.integers(1, 11)),
    option=st.sampled_from(OPTIONS),
    widths=st.sampled_from(["one", "per_level"]),
    pooling=st.sampled_from(["2d", "1d_seed"]),
    data=st.data(),
)
def test_output_shapes_per_level_on_even_and_odd_grids(grid, option, widths, pooling, data):
    fusion, upsample, bottom_up = option
    num_levels = data.draw(st.integers(1, min(4, max_levels(grid, pooling))))
    feature_dim = 8 if widths == "one" else [8 * (level + 1) for level in range(num_levels)]
    head = FeaturePyramid(
        12, grid, num_levels, True, feature_dim, fusion, upsample, pooling, bottom_up
    )
    tokens = torch.randn(2, grid[0] * grid[1], 12)
    fpn = head.fpn_levels(head.pooled_levels(tokens))
    sizes = level_grid_sizes(grid, num_levels, pooling)
    assert [tuple(x.shape) for x in fpn] == [
        (2, h * w, width) for (h, w), width in zip(sizes, head.feature_dims, strict=True)
    ]
    assert [tuple(x.shape) for x in head(tokens)] == [(2, h * w, 12) for h, w in sizes]


def read_map(module, in_size, out_size) -> torch.Tensor:
    """``(out_h, out_w, in_h, in_w)`` bool: which input cells each output cell depends on
    (also checks the output shape: 3 channels in, 5 out)."""
    x = torch.randn(1, in_size[0] * in_size[1], 3)
    assert module(x).shape == (1, out_size[0] * out_size[1], 5)
    cells = range(out_size[0] * out_size[1])
    return torch.stack([dependence(module, x, k) for k in cells]).view(*out_size, *in_size)


def is_parent(fine, coarse) -> torch.Tensor:
    """``(fine_h, fine_w, coarse_h, coarse_w)`` bool: the coarse cell is the fine cell's parent."""
    rows = (torch.arange(fine[0]) // 2)[:, None] == torch.arange(coarse[0])
    cols = (torch.arange(fine[1]) // 2)[:, None] == torch.arange(coarse[1])
    return rows[:, None, :, None] & cols[None, :, None, :]


GRIDS = [((2, 2), (4, 4)), ((4, 4), (7, 7)), ((2, 3), (3, 5))]  # (coarse, fine)


@pytest.mark.parametrize(("coarse", "fine"), GRIDS)
def test_transposed_conv_gives_each_fine_cell_only_its_own_parent(coarse, fine):
    torch.manual_seed(0)
    up = TransposedConvUpsample(3, 5, coarse, fine)
    assert torch.equal(read_map(up, coarse, fine), is_parent(fine, coarse))


@pytest.mark.parametrize(("coarse", "fine"), GRIDS)
def test_strided_conv_gives_each_coarse_cell_exactly_its_children(coarse, fine):
    torch.manual_seed(0)
    down = StridedConvDownsample(3, 5, fine, coarse)
    children = is_parent(fine, coarse).permute(2, 3, 0, 1)
    assert torch.equal(read_map(down, fine, coarse), children)


def test_attention_with_one_coarse_token_is_a_broadcast():
    torch.manual_seed(0)
    fuse = CrossAttentionFusion(
        16, 2, fine_size=(2, 2), coarse_size=(1, 1), fine_cell=(4, 4), coarse_cell=(8, 8)
    )
    lateral, coarse = torch.randn(3, 4, 16), torch.randn(3, 1, 16)
    attn = fuse.attn
    value = F.linear(coarse, attn.in_proj_weight[32:], attn.in_proj_bias[32:])
    broadcast = attn.out_proj(value).expand(-1, 4, -1)
    torch.testing.assert_close(fuse(lateral, coarse), lateral + broadcast)


def test_attention_fusion_uses_positions_so_fine_cells_differ():
    """Same lateral token everywhere: only the positions can make the outputs differ."""
    torch.manual_seed(0)
    fuse = CrossAttentionFusion(16, 1, (4, 4), (2, 2), (1, 1), (2, 2))
    out = fuse(torch.zeros(1, 16, 16), torch.randn(1, 4, 16))
    assert not torch.allclose(out[0, 0], out[0, 15])


def test_cell_centres_share_one_frame_so_a_fine_cell_is_closest_to_its_parent():
    fine = cell_centre_sincos((8, 8), (1, 1), 64)  # centres 0.5, 1.5, ... (level-0 units)
    coarse = cell_centre_sincos((4, 4), (2, 2), 64)  # centres 1, 3, 5, 7
    closest = (fine @ coarse.T).argmax(1).view(8, 8)
    rows, cols = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    assert torch.equal(closest, (rows // 2) * 4 + cols // 2)
    with pytest.raises(ValueError, match="divisible by 4"):
        cell_centre_sincos((2, 2), (1, 1), 6)


def test_bottom_up_keeps_level_0_and_changes_the_coarser_levels():
    torch.manual_seed(0)
    head = FeaturePyramid(12, (8, 8), 3, True, 8, "add", bottom_up=True)
    levels = head.pooled_levels(torch.randn(2, 64, 12))
    with_pan = head.fpn_levels(levels)
    head.bottom_up = False
    without = head.fpn_levels(levels)
    torch.testing.assert_close(with_pan[0], without[0])
    for level in (1, 2):
        assert not torch.allclose(with_pan[level], without[level])
    # pan_1 = smooth(fpn_1 + down(fpn_0)), recomputed from the module's own weights
    path = head.bottom_up_path
    expected = path.smooth[0](without[1] + path.down[0](without[0]))
    torch.testing.assert_close(with_pan[1], expected)


def test_per_level_widths_reach_every_level():
    head = FeaturePyramid(12, (8, 8), 3, True, [16, 8, 4], "concat", bottom_up=True)
    assert head.feature_dims == [16, 8, 4]
    fpn = head.fpn_levels(head.pooled_levels(torch.randn(1, 64, 12)))
    assert [x.shape[-1] for x in fpn] == [16, 8, 4]
    assert [p.in_features for p in head.project] == [16, 8, 4]


@pytest.mark.parametrize(("fusion", "upsample", "bottom_up"), OPTIONS)
def test_every_enhancement_trains_end_to_end_with_no_trainable_target(fusion, upsample, bottom_up):
    torch.manual_seed(0)
    model = create_hjepa(
        "vit_tiny_patch16_224",
        img_size=32,
        patch_size=8,
        depth=1,
        use_fpn=True,
        fpn_feature_dim=[32, 16, 8],
        fpn_fusion_method=fusion,
        fpn_upsample=upsample,
        fpn_bottom_up=bottom_up,
        predictor_depth=1,
    )
    mask = torch.zeros(2, 16)
    mask[:, :8] = 1
    outputs = model(torch.randn(2, 3, 32, 32), mask)
    hierarchical_loss(outputs, [1.0, 0.5, 0.25])[0].backward()
    no_grad = [n for n, p in model.hierarchy.named_parameters() if p.grad is None]
    assert no_grad == []
    assert model.hierarchy.lateral[0][0].weight.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in model.target_hierarchy.parameters())
    assert not any(p.requires_grad for p in model.target_encoder.parameters())
