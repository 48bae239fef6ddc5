"""What a fusion learned: the split of concat's layer, the per-path terms and their shares,
attention's maps and PANet's bottom-up share, checked against hand computations on tiny heads
(and, when they ship, on the shipped models)."""

import math

import pytest
import torch

from hjepa_lite import FeaturePyramid
from hjepa_lite.evaluation import fusion_learned as fl
from hjepa_lite.model.fusion import ConcatFusion
from hjepa_lite.shipped import pretrained

SHIPPED = pretrained.manifest()["models"]
needs_weights = pytest.mark.skipif(not SHIPPED, reason="no shipped weights yet")


def tiny_head(fusion="add", **settings):
    torch.manual_seed(0)
    return FeaturePyramid(16, (4, 4), 3, use_fpn=True, fusion_method=fusion, **settings).eval()


@pytest.fixture
def tokens():
    return torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_the_halves_of_concat_reconstruct_its_layer():
    torch.manual_seed(0)
    fusion = ConcatFusion(6)
    lateral, top_down = torch.randn(2, 5, 6), torch.randn(2, 5, 6)
    w_lat, w_td = fl.concat_halves(fusion)
    assert w_lat.shape == w_td.shape == (6, 6)
    expected = lateral @ w_lat.T + top_down @ w_td.T + fusion.proj.bias
    torch.testing.assert_close(fusion(lateral, top_down), expected)


def test_add_has_equal_fixed_halves_and_concat_its_trained_norms():
    assert fl.half_norms(tiny_head("add")) == [(4.0, 4.0)] * 2  # sqrt(16)
    head = tiny_head("concat")
    for (lateral, top_down), step in zip(fl.half_norms(head), head.top_down, strict=True):
        weight = step.fuse.proj.weight.detach()
        assert lateral == pytest.approx(float(weight[:, :16].norm()))
        assert math.hypot(lateral, top_down) == pytest.approx(float(weight.norm()), rel=1e-5)
    with pytest.raises(ValueError, match="not a linear mix"):
        fl.half_norms(tiny_head("attention"))


@pytest.mark.parametrize("fusion", ["add", "concat", "attention"])
def test_the_two_terms_sum_to_the_fused_level(fusion, tokens):
    head = tiny_head(fusion)
    fpn = head.fpn_levels(head.pooled_levels(tokens))
    for level, (lateral, top_down) in enumerate(fl.fusion_terms(head, tokens)):
        bias = head.top_down[level].fuse.proj.bias if fusion == "concat" else 0
        torch.testing.assert_close(lateral + top_down + bias, fpn[level])


def test_add_shares_are_the_hand_computed_variance_ratio(tokens):
    head = tiny_head("add")
    levels = head.pooled_levels(tokens)
    lateral = [conv(x) for conv, x in zip(head.lateral, levels, strict=True)]
    with torch.no_grad():
        fpn1 = head.top_down[1](lateral[1], lateral[2])
        down0 = head.top_down[0].from_coarser(fpn1)

    def var(x):  # every channel's variance over images and cells, averaged over channels
        return x.reshape(-1, x.shape[-1]).double().var(dim=0, unbiased=False).mean().item()

    shares = fl.top_down_shares(head, tokens)
    assert shares[0] == pytest.approx(var(down0) / (var(lateral[0]) + var(down0)))
    assert all(0 <= share <= 1 for share in shares)


def test_a_silent_top_down_path_has_share_zero(tokens):
    head = tiny_head("concat")
    with torch.no_grad():
        for step in head.top_down:
            step.fuse.proj.weight[:, 16:] = 0  # W_td = 0: pooling-only behaviour
    assert fl.top_down_shares(head, tokens) == [0.0, 0.0]


def test_attention_maps_are_distributions_over_the_coarse_grid(tokens):
    head = tiny_head("attention")
    maps = fl.attention_maps(head, tokens, 0, [(0, 0), (3, 3)])
    assert maps.shape == (2, 2, 2)  # 4x4 fine -> 2x2 coarse
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.ones(2))
    # the coarsest step has a single coarse cell: all the weight is on it
    single = fl.attention_maps(head, tokens, 1, [(0, 0), (1, 1)])
    torch.testing.assert_close(single, torch.ones(2, 1, 1))
    with pytest.raises(ValueError, match="not attention"):
        fl.attention_maps(tiny_head("add"), tokens, 0, [(0, 0)])


def test_bottom_up_shares_match_the_path_by_hand(tokens):
    head = tiny_head("add", bottom_up=True)
    fpn, _ = fl._top_down_pass(head, tokens)
    path = head.bottom_up_path
    with torch.no_grad():
        from_below = path.down[0](fpn[0])
    expected = fl.variance(from_below) / (fl.variance(fpn[1]) + fl.variance(from_below))
    shares = fl.bottom_up_shares(head, tokens)
    assert len(shares) == 2 and shares[0] == pytest.approx(expected)
    assert all(0 <= share <= 1 for share in shares)
    with pytest.raises(ValueError, match="no PANet"):
        fl.bottom_up_shares(tiny_head("add"), tokens)


@needs_weights
def test_on_the_shipped_concat_model_the_terms_rebuild_its_levels():
    model = pretrained.load_pretrained("tiny_fpn_concat")
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    tokens = fl.head_tokens(model, images)
    head = model.hierarchy
    with torch.no_grad():
        outputs = model.online_levels(images)
        fpn = head.fpn_levels(head.pooled_levels(tokens))
    torch.testing.assert_close(head.project[0](fpn[0]), outputs[0])
    lateral, top_down = fl.fusion_terms(head, tokens)[0]
    torch.testing.assert_close(lateral + top_down + head.top_down[0].fuse.proj.bias, fpn[0])
    assert all(0 < share < 1 for share in fl.top_down_shares(head, tokens))


@pytest.mark.parametrize("fusion", ["add", "concat"])
@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, 2.0])
def test_a_scaled_top_down_path_multiplies_each_top_down_term(fusion, scale, tokens):
    head = tiny_head(fusion)
    before = [p.clone() for p in head.parameters()]
    scaled = fl.scale_top_down(head, scale)
    with torch.no_grad():
        levels = scaled.fpn_levels(scaled.pooled_levels(tokens))
    for level, (lateral, top_down) in enumerate(fl.fusion_terms(scaled, tokens)):
        original = head.top_down[level]
        with torch.no_grad():  # the original step's top-down input, from the copy's fpn_{l+1}
            down = scale * original.from_coarser(levels[level + 1])
        if fusion == "add":
            torch.testing.assert_close(top_down, down)
            torch.testing.assert_close(lateral + top_down, levels[level])
        else:  # concat: W_td (scale * down); the lateral half and the bias stay as trained
            _, w_td = fl.concat_halves(original.fuse)
            torch.testing.assert_close(top_down, down @ w_td.T)
            torch.testing.assert_close(lateral + top_down + original.fuse.proj.bias, levels[level])
    if scale == 1.0:
        with torch.no_grad():
            trained = head.fpn_levels(head.pooled_levels(tokens))
        for mine, theirs in zip(levels, trained, strict=True):
            torch.testing.assert_close(mine, theirs)
    assert all(torch.equal(a, b) for a, b in zip(before, head.parameters(), strict=True))


def test_without_the_top_down_path_a_level_is_its_lateral_term(tokens):
    head = tiny_head("add")
    off = fl.scale_top_down(head, 0.0)
    pooled = head.pooled_levels(tokens)
    lateral = [conv(x) for conv, x in zip(head.lateral, pooled, strict=True)]
    with torch.no_grad():
        for mine, theirs in zip(off.fpn_levels(pooled), lateral, strict=True):
            torch.testing.assert_close(mine, theirs)


@pytest.mark.parametrize(
    ("head", "scale", "message"),
    [
        (lambda: tiny_head("attention"), 0.0, "valid fusions: add, concat"),
        (lambda: FeaturePyramid(16, (4, 4), 3, use_fpn=False), 0.0, "pooling-only"),
        (lambda: tiny_head("add"), float("nan"), "finite number"),
        (lambda: tiny_head("add"), True, "finite number"),
        (lambda: tiny_head("add"), "0", "finite number"),
    ],
)
def test_scale_top_down_refuses_what_it_cannot_scale(head, scale, message):
    with pytest.raises(ValueError, match=message):
        fl.scale_top_down(head(), scale)
