"""The fusion widget's logic without a browser: random-init and pre-trained comparisons,
the shipped config of each setting, errors shown in the widget (tests/test_browser.py drives
the same widget in JupyterLab)."""

import pytest
import torch

from hjepa_lite import pretrained
from hjepa_lite.compare import compare_pretrained, pretrained_variant
from hjepa_lite.encoder import PatchEncoder
from hjepa_lite.widgets import PRETRAINED, FusionWidget

SHIPPED = pretrained.manifest()["models"]
needs_weights = pytest.mark.skipif(not SHIPPED, reason="no shipped weights yet")


@pytest.fixture(scope="module")
def widget():
    torch.manual_seed(0)
    encoder = PatchEncoder("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1).eval()
    images = {"noise": torch.randn(3, 32, 32), "stripes": torch.arange(32.0).repeat(3, 32, 1)}
    return FusionWidget(images, encoder, methods=("add",))


def test_random_init_compares_pooling_only_and_each_method(widget):
    widget.weights.value = "random init"
    widget.methods.value = ("add", "concat")
    runs = widget.runs
    widget.button.click()
    assert widget.error is None, widget.error
    assert widget.runs == runs + 1
    assert list(widget.results) == ["pooling-only", "FPN add", "FPN concat"]
    assert widget.results["pooling-only"].fpn_params == 0
    assert [m.shape for m in widget.results["FPN add"].maps] == [(4, 4, 3), (2, 2, 3), (1, 1, 3)]
    assert not widget.feature_dim.disabled


def test_an_error_is_shown_in_the_widget_not_raised(widget):
    widget.weights.value = "random init"
    options = widget.feature_dim.options
    widget.feature_dim.options = (7,)  # attention's sin-cos positions need a multiple of 4
    widget.methods.value = ("attention",)
    widget.button.click()
    assert "divisible by 4" in widget.error and "hjepa-error" in widget.status.value
    widget.feature_dim.options = options


def test_each_setting_maps_to_its_shipped_config_or_a_clear_error():
    def entry(use_fpn=True, fusion="add", upsample="bilinear", bottom_up=False, targets="pooled"):
        fpn = dict(use_fpn=use_fpn, fusion_method=fusion, upsample=upsample, bottom_up=bottom_up)
        return {"config": {"model": {"targets": targets, "fpn": {**fpn, "feature_dim": None}}}}

    shipped = {
        "pool": entry(use_fpn=False),
        "old": entry(use_fpn=False, targets="head"),
        "add": entry(),
        "up": entry(upsample="transposed_conv"),
        "pan": entry(bottom_up=True),
        "att": entry(fusion="attention", upsample="nearest"),
    }
    assert pretrained_variant(None, shipped=shipped) == "pool"
    assert pretrained_variant("add", "bilinear", False, shipped) == "add"
    assert pretrained_variant("add", "transposed_conv", False, shipped) == "up"
    assert pretrained_variant("add", "bilinear", True, shipped) == "pan"
    assert pretrained_variant("attention", "transposed_conv", False, shipped) == "att"
    with pytest.raises(ValueError, match="no pre-trained weights for fusion 'concat'.*random init"):
        pretrained_variant("concat", "bilinear", False, shipped)


@needs_weights
def test_every_fusion_method_with_bilinear_upsampling_has_shipped_weights():
    for method in ("add", "concat", "attention"):
        assert pretrained_variant(method) in SHIPPED


@needs_weights
def test_pretrained_compares_the_shipped_models_on_their_own_encoders(widget):
    widget.weights.value = PRETRAINED
    assert widget.feature_dim.disabled
    widget.methods.value = ("add", "attention")
    widget.upsample.value = "bilinear"
    widget.bottom_up.value = False
    widget.button.click()
    assert widget.error is None, widget.error
    assert list(widget.results) == ["pooling-only", "FPN add", "FPN attention"]
    assert "tiny_fpn_add" in widget.status.value
    # the shipped models are 64 px with 8 px patches: an 8x8 grid, whatever the image size
    assert [m.shape for m in widget.results["FPN add"].maps] == [(8, 8, 3), (4, 4, 3), (2, 2, 3)]
    model = widget.models["tiny_fpn_add"]
    image = torch.nn.functional.interpolate(
        widget.images[widget.image.value][None], size=(64, 64), mode="bilinear", antialias=True
    )
    again = compare_pretrained(widget.images[widget.image.value], {"FPN add": model}, 2, 1)
    assert (again["FPN add"].maps[0] == widget.results["FPN add"].maps[0]).all()
    assert model.online_levels(image)[0].shape == (1, 64, 192)
    widget.bottom_up.value = True
    widget.methods.value = ("concat",)
    widget.button.click()
    assert "no pre-trained weights for fusion 'concat'" in widget.error
    widget.weights.value = "random init"
