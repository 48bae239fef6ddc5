"""The built site (``make site-test``: site/build.py --fast, then this file), read in headless
Chromium the way a reader would, with every request off this machine refused (the site must
work offline): every page loads without a console error, every notebook page has its figures,
every internal link resolves, and notebook 04's widget gallery is visible and answers its
menus, and so is notebook 05's mask explorer gallery; the home page shows the current results
only. Screenshots of the home page and the galleries go to build/screenshots/.

Needs Chromium (HJEPA_CHROMIUM, else /usr/bin/chromium) and the Python package playwright, as
tests/test_browser.py does; skipped with the reason when either is missing.
"""

import functools
import http.server
import os
import threading
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("HJEPA_SITE") or REPO / "build" / "site")
CHROMIUM = Path(os.environ.get("HJEPA_CHROMIUM") or "/usr/bin/chromium")
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the Python package 'playwright' is not installed"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (set HJEPA_CHROMIUM)"
)


def pages() -> list[str]:
    """Every HTML page of the site, relative to its root (Sphinx's own search page aside)."""
    assert (SITE / "index.html").exists(), f"no site in {SITE}: run make site-test"
    skip = ("_static/", "_sources/", "_images/", "search.html")
    return sorted(
        str(p.relative_to(SITE))
        for p in SITE.rglob("*.html")
        if not str(p.relative_to(SITE)).startswith(skip)
    )


@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A page that refuses (and records) every request leaving 127.0.0.1, and records errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.outside, page.errors = [], []

    def route(request_route):
        host = urllib.parse.urlparse(request_route.request.url).hostname
        if host == "127.0.0.1" or request_route.request.url.startswith("data:"):
            request_route.continue_()
        else:
            page.outside.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    page.close()


def test_every_notebook_has_a_page():
    assert {f"notebooks/{name}.html" for name in NOTEBOOKS} <= set(pages())


def test_every_page_loads_offline_with_figures_and_no_error(page, server):
    broken = []
    for path in pages():
        page.goto(server + path, wait_until="networkidle")
        images = page.eval_on_selector_all(
            "article img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])"
        )
        assert all(width > 0 for _, width in images), f"{path}: an image did not load {images}"
        if path.startswith("notebooks/"):
            assert images, f"{path} shows no figure"
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        for link in links:
            url = urllib.parse.urlparse(link)
            if link.startswith(server) and not (SITE / url.path.lstrip("/")).exists():
                broken.append(f"{path} -> {url.path}")
    assert not page.errors, f"console errors: {page.errors}"
    assert not page.outside, f"requests off this machine: {sorted(set(page.outside))}"
    assert not broken, f"internal links that do not resolve: {broken}"


def test_the_home_page_shows_current_results_only(page, server):
    """README's results up to its <!-- site:end-results --> marker (site/index.md): the seed's
    claims measured, the collapse fix with the current recipe, the step cost; not the section
    of earlier runs, made before the collapse fix."""
    page.goto(server + "index.html", wait_until="networkidle")
    ids = page.eval_on_selector_all("section[id]", "sections => sections.map(s => s.id)")
    for current in ("what-the-pyramid-buys", "collapse-measured", "speed-memory"):
        assert any(i.startswith(current) for i in ids), f"no section {current}...: {ids}"
    assert not any(i.startswith("probe-quality-after") for i in ids), f"history shown: {ids}"
    assert not page.errors and not page.outside


def test_the_widget_gallery_answers_its_menus(page, server):
    page.goto(server + "notebooks/04_fusion.html", wait_until="networkidle")
    gallery = page.locator(".hjepa-gallery").first
    gallery.scroll_into_view_if_needed()
    shown = gallery.locator("figure:not([hidden])")
    assert shown.count() == 1 and shown.get_attribute("data-key") == "w0-i0-l0"
    assert shown.locator("img").evaluate("i => i.naturalWidth") > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    gallery.screenshot(path=SCREENSHOTS / "site_04_gallery.png")
    page.screenshot(path=SCREENSHOTS / "site_04.png")
    gallery.locator('select[data-axis="i"]').select_option("1")
    gallery.locator('select[data-axis="l"]').select_option("2")
    assert shown.count() == 1 and shown.get_attribute("data-key") == "w0-i1-l2"
    assert shown.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    gallery.locator('select[data-axis="w"]').select_option("1")  # pre-trained
    assert shown.get_attribute("data-key") == "w1-i1-l2"
    assert shown.locator("img, .hjepa-error").count() == 1
    page.goto(server + "index.html", wait_until="networkidle")
    page.screenshot(path=SCREENSHOTS / "site_home.png")
    assert not page.errors and not page.outside


def test_the_mask_explorer_gallery_answers_its_menus(page, server):
    page.goto(server + "notebooks/05_training.html", wait_until="networkidle")
    gallery = page.locator(".hjepa-mask-gallery")
    assert gallery.count() == 1, "notebook 05 shows no mask explorer gallery"
    gallery.scroll_into_view_if_needed()
    shown = gallery.locator("figure:not([hidden])")
    assert shown.count() == 1 and shown.get_attribute("data-key") == "g0-s0-t0"
    assert shown.locator("img").evaluate("i => i.naturalWidth") > 0
    first = shown.locator("img").get_attribute("src")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    gallery.screenshot(path=SCREENSHOTS / "site_05_mask_gallery.png")
    gallery.locator('select[data-axis="g"]').select_option("1")  # the 16x16 grid
    gallery.locator('select[data-axis="s"]').select_option("1")
    assert shown.count() == 1 and shown.get_attribute("data-key") == "g1-s1-t0"
    assert shown.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    assert shown.locator("img").get_attribute("src") != first
    assert "grid side 16" in shown.locator("figcaption").inner_text()
    assert not page.errors and not page.outside
