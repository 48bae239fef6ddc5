"""The fusion widget's logic without a browser: random-init and pre-trained comparisons,
the shipped config of each setting, errors shown in the widget, and the settings notebooks 04,
07 and 08 show it with, driven from Python as a learner would use the controls
(tests/test_browser.py drives the same widget in JupyterLab)."""

import pytest
import torch

from hjepa_lite import FUSION_METHODS, FeaturePyramid, count_parameters
from hjepa_lite.model.encoder import PatchEncoder
from hjepa_lite.notebook import widgets as widgets_module
from hjepa_lite.notebook.compare import compare_fusion, compare_pretrained, pretrained_variant
from hjepa_lite.notebook.widgets import PRETRAINED, FusionWidget
from hjepa_lite.shipped import pretrained

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


# -- the notebooks' settings, driven like a learner: an odd patch grid (7x7 -> 4x4 -> 2x2) ----

ODD_SIZES = [(7, 7), (4, 4), (2, 2)]


@pytest.fixture(scope="module")
def odd_widget():
    """Notebooks 04, 07 and 08 show the widget on a 224 px ViT-Tiny (14x14 patches); this one
    has the same width (192) on an odd grid, small enough to compare in a fraction of a second."""
    torch.manual_seed(0)
    encoder = PatchEncoder("vit_tiny_patch16_224", img_size=56, patch_size=8, depth=1).eval()
    images = {"photo": torch.randn(3, 56, 56), "shape": torch.zeros(3, 56, 56)}
    images["shape"][:, 16:40, 16:40] = 1.0
    return FusionWidget(images, encoder)


def set_controls(ui, methods, feature_dim=192, upsample="bilinear", bottom_up=False, image=0):
    ui.weights.value = "random init"
    ui.methods.value = tuple(methods)
    ui.feature_dim.value = feature_dim
    ui.upsample.value = upsample
    ui.bottom_up.value = bottom_up
    ui.image.value = list(ui.images)[image]


def head_params(**settings) -> int:
    return count_parameters(FeaturePyramid(192, (7, 7), 3, use_fpn=True, **settings))


def test_the_widget_starts_with_add_and_concat_at_full_width(odd_widget):
    ui = FusionWidget(odd_widget.images, odd_widget.encoder)  # as notebook 04 makes it
    assert ui.methods.value == ("add", "concat")
    assert ui.feature_dim.options == (48, 96, 192) and ui.feature_dim.value == 192
    assert ui.weights.value == "random init"  # pre-trained needs the shipped weights
    assert ui.runs == 0 and ui.results == {} and ui.error is None


def test_concat_alone_at_the_narrowest_width_on_another_image(odd_widget):
    """Notebook 04, section 6: the cell that sets the controls and presses Compare."""
    ui = odd_widget
    set_controls(ui, ("concat",), feature_dim=ui.feature_dim.options[0], image=1)
    runs = ui.runs
    ui.button.click()
    assert ui.error is None, ui.error
    assert ui.runs == runs + 1
    # tests/test_browser.py reads this status after notebook 04's Run All
    assert ui.status.value.startswith(f"measured 2 variants (run {ui.runs})")
    assert list(ui.results) == ["pooling-only", "FPN concat"]
    concat = ui.results["FPN concat"]
    assert ui.results["pooling-only"].fpn_params == 0 < concat.fpn_params
    assert concat.head_params == head_params(feature_dim=48, fusion_method="concat")
    assert concat.sizes == ODD_SIZES
    assert [m.shape for m in concat.maps] == [(*size, 3) for size in ODD_SIZES]
    # the maps are those of the chosen image (the same seed gives the same heads)
    again = compare_fusion(ui.images["shape"], ui.encoder, ("concat",), 48, batch_size=1, repeats=1)
    for mine, expected in zip(concat.maps, again["FPN concat"].maps, strict=True):
        assert (mine == expected).all()


def test_moving_the_level_redraws_without_measuring_again(odd_widget, monkeypatch):
    ui = odd_widget
    set_controls(ui, ("add",))
    ui.button.click()
    drawn = []
    monkeypatch.setattr(widgets_module, "plot_comparison", lambda _, level: drawn.append(level))
    results, runs = ui.results, ui.runs
    ui.level.value = 2 if ui.level.value != 2 else 1
    assert drawn == [ui.level.value]
    assert ui.results is results and ui.runs == runs and ui.error is None


def test_every_fusion_method_with_learned_upsampling(odd_widget):
    """Notebook 07's widget: every fusion method, upsample = transposed_conv."""
    ui = odd_widget
    set_controls(ui, FUSION_METHODS, upsample="transposed_conv")
    ui.button.click()
    assert ui.error is None, ui.error
    assert list(ui.results) == ["pooling-only", "FPN add", "FPN concat", "FPN attention"]
    learned = head_params(fusion_method="add", upsample="transposed_conv")
    assert ui.results["FPN add"].head_params == learned > head_params(fusion_method="add")
    # attention resamples by itself: its column ignores the upsampling (no error either)
    attention = head_params(fusion_method="attention")
    assert ui.results["FPN attention"].head_params == attention


def test_attention_alone_on_another_image(odd_widget):
    """Notebook 07: attention only, bilinear, no PANet, a second image, then another level."""
    ui = odd_widget
    set_controls(ui, ("attention",), image=1)
    runs = ui.runs
    ui.button.click()
    assert ui.error is None, ui.error
    assert ui.runs == runs + 1 and list(ui.results) == ["pooling-only", "FPN attention"]
    assert ui.results["FPN attention"].fpn_params > 0
    ui.level.value = 1
    assert ui.error is None and ui.runs == runs + 1
    assert [m.shape for m in ui.results["FPN attention"].maps] == [(*s, 3) for s in ODD_SIZES]


def test_the_bottom_up_path_adds_its_parameters_to_fpn_only(odd_widget):
    """Notebook 08's widget: FPN add with PANet's bottom-up path on, beside pooling-only."""
    ui = odd_widget
    set_controls(ui, ("add",))
    ui.button.click()
    without = ui.results
    ui.bottom_up.value = True
    ui.button.click()
    assert ui.error is None, ui.error
    assert list(ui.results) == ["pooling-only", "FPN add"]
    add = ui.results["FPN add"]
    assert add.head_params == head_params(bottom_up=True) > without["FPN add"].head_params
    assert add.sizes == ODD_SIZES
    # pooling-only has no bottom-up path: the same head and maps with the box ticked
    assert ui.results["pooling-only"].head_params == without["pooling-only"].head_params
    pooled, before = ui.results["pooling-only"].maps, without["pooling-only"].maps
    for mine, expected in zip(pooled, before, strict=True):
        assert (mine == expected).all()


def test_widget_images_are_a_photo_and_named_shapes_at_the_asked_size():
    from hjepa_lite.notebook.widgets import widget_images

    images = widget_images(32, shapes=3, patch_size=8)
    names = list(images)
    assert names[0] == "Grace Hopper (photo)" and len(names) == 4
    assert all(name.startswith("Shapes: ") for name in names[1:])
    assert all(image.shape == (3, 32, 32) for image in images.values())
    assert -3 < float(images[names[1]].min()) < 0 < float(images[names[1]].max()) < 3  # normalised
