"""The widget gallery (the site's stand-in for a live widget): one figure per state, the HTML's
menus select exactly those figures, a refused state shows the widget's error, and the widget
is left as it was."""

import html
import re

import pytest
import torch
from PIL import Image

from hjepa_lite.model.encoder import PatchEncoder
from hjepa_lite.notebook.widget_gallery import gallery_states, save_gallery
from hjepa_lite.notebook.widgets import FusionWidget


def refuse(config: str):
    raise FileNotFoundError(f"no weights for {config} in this test")


@pytest.fixture
def widget():
    torch.manual_seed(0)
    encoder = PatchEncoder("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1).eval()
    images = {"noise": torch.randn(3, 32, 32), "stripes <b>": torch.arange(32.0).repeat(3, 32, 1)}
    return FusionWidget(images, encoder, methods=("add",), load=refuse)


def test_one_png_per_state_and_one_figure_each(widget, tmp_path):
    widget.image.value = "stripes <b>"
    widget.compare()
    page = save_gallery(widget, tmp_path, src="gallery/")
    states = gallery_states(widget)
    assert len(states) == 2 * 2 * 3  # weights x images x levels
    keys = re.findall(r'<figure data-key="([^"]+)"', page)
    assert keys == ["w{}-i{}-l{}".format(*s) for s in states]
    assert re.findall(r"<figure[^>]*>", page).count('<figure data-key="w0-i0-l0">') == 1
    assert len(re.findall(r"<figure [^>]* hidden>", page)) == len(states) - 1
    # random init: an image per state; its address starts with src
    for w, i, level in states:
        if w == 0:
            png = tmp_path / f"w0-i{i}-l{level}.png"
            assert f'src="gallery/{png.name}"' in page
            assert Image.open(png).size[0] > 100
    # the menus offer exactly the widget's options, escaped
    assert html.escape("stripes <b>") in page and "stripes <b>" not in page
    assert re.findall(r'data-axis="(\w)"', page) == ["w", "i", "l"]


def test_a_refused_state_shows_the_widgets_error(widget, tmp_path):
    page = save_gallery(widget, tmp_path)
    assert page.count('class="hjepa-error"') == 2 * 3  # pre-trained x images x levels
    assert "no weights for tiny_pool in this test" in page
    assert not list(tmp_path.glob("w1-*.png"))


def test_the_widget_is_left_as_it_was(widget, tmp_path):
    widget.image.value = "stripes <b>"
    widget.compare()
    before = widget.results["FPN add"].maps[0].copy()
    save_gallery(widget, tmp_path)
    assert widget.weights.value == "random init" and widget.image.value == "stripes <b>"
    assert widget.error is None
    torch.testing.assert_close(
        torch.as_tensor(widget.results["FPN add"].maps[0]), torch.as_tensor(before)
    )


# -- the mask explorer's gallery (hjepa_lite.notebook.mask_gallery) ------------------------


def test_the_mask_gallery_has_one_figure_per_state_and_leaves_the_explorer(tmp_path):
    from hjepa_lite.notebook.mask_explorer import MaskExplorer
    from hjepa_lite.notebook.mask_gallery import gallery_keys, save_gallery

    explorer = MaskExplorer(draws=64, batch=16, target_aspect=(1.0, 1.0))
    runs, cells = explorer.runs, explorer.stats["cells"].clone()
    states = {
        "g": ("grid side", "grid", (8, 12)),
        "s": ("target scale", "target_scale", ((0.15, 0.2), (1.0, 1.0))),  # the second: refused
    }
    page = save_gallery(explorer, tmp_path, src="mask/", states=states)
    keys = re.findall(r'<figure data-key="([^"]+)"', page)
    assert keys == gallery_keys(states) == ["g0-s0", "g0-s1", "g1-s0", "g1-s1"]
    assert len(re.findall(r"<figure [^>]* hidden>", page)) == 3
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["g0-s0.png", "g1-s0.png"]
    assert 'src="mask/g1-s0.png"' in page and Image.open(tmp_path / "g1-s0.png").size[0] > 300
    assert page.count('class="hjepa-error"') == 2 and "could not keep min_context" in page
    assert re.findall(r'data-axis="(\w)"', page) == ["g", "s"]
    assert "grid side 12, target scale 0.15-0.2" in page
    # the explorer was not driven: same sliders, same statistics, no redraw
    assert explorer.runs == runs and explorer.grid.value == 8
    assert torch.equal(explorer.stats["cells"], cells)
