"""Notebook 04's fusion widget and notebook 05's mask explorer, the way a learner sees them:
JupyterLab in headless Chromium.

The tests start the project's JupyterLab (one server for the module) on a copy of the
notebooks. The first opens 04_fusion.ipynb, runs all cells from the Run menu, then uses the
FusionWidget's controls in the page and checks that its output changes and that no error shows
anywhere. The second does the same with the MaskExplorer in a two-cell notebook the fixture
writes (notebook 05 itself trains; its explorer cell is the same call). Screenshots go to
build/screenshots/.

Needs Chromium, from HJEPA_CHROMIUM (e.g. macOS: HJEPA_CHROMIUM="/Applications/Google
Chrome.app/Contents/MacOS/Google Chrome") or else Debian's /usr/bin/chromium (``.ci/run``
installs it), and the Python package ``playwright`` (in the lock); never ``playwright install``.
Skipped when either is missing.
"""

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).parent.parent
CHROMIUM = Path(os.environ.get("HJEPA_CHROMIUM") or "/usr/bin/chromium")
NOTEBOOK = "04_fusion.ipynb"
SCREENSHOTS = REPO / "build" / "screenshots"
SUCCESS_SHOT = SCREENSHOTS / "fusion_widget.png"
FAILURE_SHOT = SCREENSHOTS / "fusion_widget_failure.png"
EXPLORER_NOTEBOOK = "mask_explorer_check.ipynb"  # written by the fixture next to the copies
EXPLORER_SHOT = SCREENSHOTS / "mask_explorer.png"
EXPLORER_FAILURE_SHOT = SCREENSHOTS / "mask_explorer_failure.png"
EXPLORER_DONE_TEXT = "the explorer works:"
# Flags that work as root on these machines; headless itself comes from headless=True.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous limits for a busy 2-core machine (make test runs notebooks on the other worker).
SERVER_START_S = 120
PAGE_TIMEOUT_MS = 90_000
RUN_ALL_TIMEOUT_MS = 300_000
COMPARE_TIMEOUT_MS = 120_000

playwright_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the Python package 'playwright' is not installed (it is in requirements-lock.txt)",
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent (set HJEPA_CHROMIUM to a Chromium or Chrome; Debian: "
    "apt-get install -y chromium, which .ci/run does)",
)
expect = playwright_api.expect

# Selectors (JupyterLab 4.6, ipywidgets 8). Tracebacks and stderr render with this mime type.
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
WIDGET = ".jp-OutputArea-output > .jupyter-widgets.widget-vbox"  # a displayed VBox widget
DONE_TEXT = "the widget works:"  # printed by the notebook's last cell
RUN_ALL_STATE = """([stderr, doneText]) => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!panel) return false;
    const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
    if (outputs.some(o => o.textContent.includes(doneText))) return 'done';
    if ([...panel.querySelectorAll(stderr)].some(o => o.textContent.includes('Traceback')))
        return 'a cell raised an error';
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent);
    if (prompts.some(p => p.includes('*'))) return false;  // cells queued or running
    return prompts.some(p => /\\d/.test(p)) ? 'stopped without the last output' : false;
}"""


def free_port() -> int:
    """A loopback port nobody listens on (the OS picks it; safe under pytest-xdist)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def create_session(base_url: str, path: str) -> dict:
    """POST /api/sessions with the _xsrf cookie and header that a browser would send."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    opener.open(f"{base_url}/lab", timeout=60).close()  # sets the _xsrf cookie
    xsrf = next(cookie.value for cookie in cookies if cookie.name == "_xsrf")
    body = {"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}}
    request = urllib.request.Request(
        f"{base_url}/api/sessions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-XSRFToken": xsrf},
    )
    with opener.open(request, timeout=60) as response:
        return json.loads(response.read())


def log_tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def stop_process_tree(process: subprocess.Popen) -> None:
    """Stop the server's process group, then any kernel it started (kernels get own sessions)."""
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    _, alive = psutil.wait_procs(descendants, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def write_explorer_notebook(path: Path) -> None:
    """The mask explorer as notebook 05 shows it (fewer draws), then a line saying it ran."""
    import nbformat

    cells = [
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nfrom hjepa_lite.notebook.mask_explorer import MaskExplorer\n\n"
            "explorer = MaskExplorer(grid=8, batch=32, draws=256)\nexplorer"
        ),
        nbformat.v4.new_code_cell(
            f"print({EXPLORER_DONE_TEXT!r}, explorer.runs, 'redraws, error:', explorer.error)"
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory):
    """The project's JupyterLab (as `make lab` starts it) on a copy of notebooks/; yields its URL.

    Config and data dirs are the Makefile's (so .venv's overrides.json applies: windowingMode
    none, autoStartDefaultKernel); user settings, workspaces and runtime files go to tmp_path,
    so the test neither reads a learner's own settings nor leaves its tabs in their workspace.
    One server for the module's tests (each opens its own notebook and kernel).
    """
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "notebooks"
    shutil.copytree(
        REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "runs")
    )
    write_explorer_notebook(root / EXPLORER_NOTEBOOK)
    prefix = Path(sys.prefix)
    env = {
        **os.environ,
        "HJEPA_FAST": "1",
        "JUPYTER_CONFIG_DIR": str(prefix / "etc" / "jupyter"),
        "JUPYTER_DATA_DIR": str(prefix / "share" / "jupyter"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",  # ServerApp.token is deprecated
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one below
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, f"JupyterLab exited early:\n{log_tail(log)}"
            try:
                api(f"{url}/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, (
                    f"JupyterLab did not answer {url}/api/status in {SERVER_START_S} s:\n"
                    f"{log_tail(log)}"
                )
                time.sleep(0.25)
        tracker = api(f"{url}/lab/api/settings/@jupyterlab/notebook-extension:tracker")
        defaults = {k: v.get("default") for k, v in tracker["schema"]["properties"].items()}
        assert defaults["windowingMode"] == "none", (
            "the project's overrides.json is not applied (windowingMode is not 'none'); "
            "run `make install`, which copies jupyter/overrides.json into .venv"
        )
        # A kernel session made through the REST API avoids the "Select Kernel" dialog and a
        # first "Run All" that runs only one cell.
        for notebook in (NOTEBOOK, EXPLORER_NOTEBOOK):
            session = create_session(url, notebook)
            assert session["kernel"]["name"] == "python3", f"unexpected session: {session}"
        yield url, log
    finally:
        stop_process_tree(server)


def error_report(page) -> str:
    """Every error JupyterLab shows in the page, as text (empty = none)."""
    found = []
    for text in page.locator(STDERR_OUTPUT).all_inner_texts():
        if "Traceback" in text or "Error" in text:
            found.append(f"error output:\n{text[-3000:]}")
    for prompt in page.locator(".jp-OutputPrompt").all_inner_texts():
        if "Error" in prompt:
            found.append(f"error output prompt: {prompt!r}")
    if page.get_by_text("Error displaying widget").count():
        found.append("'Error displaying widget' is shown")
    if page.locator(".jp-Dialog").count():
        found.append(f"a dialog is open: {page.locator('.jp-Dialog').first.inner_text()!r}")
    return "\n".join(found)


def run_status(status_text: str) -> tuple[int, int]:
    """'measured 3 variants (run 2): <what was compared>' -> (3, 2)."""
    match = re.fullmatch(r"measured (\d+) variants \(run (\d+)\)(: .+)?", status_text.strip())
    assert match, f"the widget's status is not a measurement: {status_text!r}"
    return int(match[1]), int(match[2])


def labelled(widget, kind: str, label: str):
    """The ipywidgets control of this kind whose label is exactly ``label``."""
    exact = widget.page.locator("label.widget-label", has_text=re.compile(f"^{label}$"))
    return widget.locator(kind).filter(has=exact)


def open_and_run_all(page, url: str, notebook: str, done_text: str):
    """Open ``notebook``, Run All Cells from the menu, wait for ``done_text``; returns the
    status bar's "idle kernel" locator."""
    page.goto(f"{url}/lab/tree/{notebook}", wait_until="domcontentloaded")
    tab = page.locator(".lm-TabBar-tab.jp-mod-current", has_text=notebook)
    expect(tab, f"{notebook} did not open as the current tab").to_be_visible()
    # "Python 3 (ipykernel) | Idle" in the status bar: the page is connected to an idle kernel
    # (the toolbar's execution indicator already says idle while there is "No Kernel").
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^Python 3.* \| Idle$"))
    expect(idle, "the notebook did not connect to an idle python3 kernel").to_be_visible()
    assert not page.locator(".jp-Dialog").count(), (
        f"a dialog blocks the notebook: {page.locator('.jp-Dialog').first.inner_text()!r}"
    )

    # Run -> Run All Cells, as a learner does.
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    # The last cell prints done_text. Run All queues every code cell at once ("[*]"), so no
    # "[*]" left without that text means Run All stopped early (a failing cell stops it).
    state = page.wait_for_function(
        RUN_ALL_STATE, arg=[STDERR_OUTPUT, done_text], timeout=RUN_ALL_TIMEOUT_MS, polling=500
    ).json_value()
    assert state == "done", f"Run All did not reach the last cell ({state}):\n{error_report(page)}"
    expect(idle, "the kernel did not become idle after Run All").to_be_visible()
    return idle


def run_notebook_and_use_widget(page, url: str) -> None:
    idle = open_and_run_all(page, url, NOTEBOOK, DONE_TEXT)

    # The FusionWidget rendered: one widget output holding its controls and a feature-map image.
    widget = page.locator(WIDGET).filter(has=page.get_by_role("button", name="Compare"))
    expect(
        widget, "the FusionWidget did not render (no widget with a Compare button)"
    ).to_have_count(1)
    compare = widget.get_by_role("button", name="Compare")
    fusion = labelled(widget, ".widget-select-multiple", "fusion").locator("select")
    picture = labelled(widget, ".widget-dropdown", "image").locator("select")
    level = labelled(widget, ".widget-slider", "level")
    status = widget.locator(".widget-html .widget-html-content")
    image = widget.locator(".widget-output img")
    for name, control in [("Compare button", compare), ("fusion select", fusion), ("level", level)]:
        expect(control, f"the widget's {name} is not visible").to_be_visible()
    expect(image, "the widget shows no feature maps").to_be_visible()
    variants, runs = run_status(status.inner_text())
    assert variants == 2, f"the page shows {variants} variants, the notebook's last Compare had 2"
    old_image = image.get_attribute("src")

    # Compare add with concat on the photo (the notebook's last cell left concat only and a
    # Shapes image), as a learner would.
    fusion.select_option(["add", "concat"])
    picture.select_option("Grace Hopper (photo)")
    compare.click()
    expect(status, "the widget's run counter did not advance after Compare").to_contain_text(
        f"measured 3 variants (run {runs + 1})", timeout=COMPARE_TIMEOUT_MS
    )
    expect(image, "the feature maps did not change after Compare").not_to_have_attribute(
        "src", old_image, timeout=COMPARE_TIMEOUT_MS
    )

    # Move the level slider with the keyboard on its handle (to the finest level, 0, unless it
    # is there already): the widget only redraws.
    old_image = image.get_attribute("src")
    readout = level.locator(".widget-readout")
    key, target = ("Home", "0") if readout.inner_text().strip() != "0" else ("End", "2")
    level.get_by_role("slider").press(key)
    expect(readout, f"the level slider did not move to {target}").to_have_text(target)
    expect(image, "the feature maps did not change with the level").not_to_have_attribute(
        "src", old_image, timeout=COMPARE_TIMEOUT_MS
    )
    expect(status).to_contain_text(f"measured 3 variants (run {runs + 1})")

    expect(idle, "the kernel did not become idle after using the widget").to_be_visible()
    errors = error_report(page)
    assert not errors, f"JupyterLab shows errors:\n{errors}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=SUCCESS_SHOT)


def in_browser(jupyter_lab, use, failure_shot: Path) -> None:
    """Run ``use(page, url)`` in a fresh headless Chromium; on failure, a screenshot and the
    page's errors and the server's log in the message."""
    url, log = jupyter_lab
    failure_shot.unlink(missing_ok=True)
    with playwright_api.sync_playwright() as playwright:
        # Playwright gives each launch a fresh temporary profile (its own --user-data-dir).
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            expect.set_options(timeout=PAGE_TIMEOUT_MS)  # expect(...) waits 5 s by default
            page_errors = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            try:
                use(page, url)
            except Exception as error:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                widget = page.locator(WIDGET)
                target = widget.first if widget.count() else page
                target.screenshot(path=failure_shot)
                details = "\n".join(page_errors[-5:]) or "none"
                raise AssertionError(
                    f"{error}\n\nscreenshot: {failure_shot}\npage errors: {details}\n"
                    f"JupyterLab log (tail):\n{log_tail(log)}"
                ) from error
        finally:
            browser.close()


@pytest.mark.slow
def test_fusion_widget_runs_and_reacts_in_jupyterlab(jupyter_lab):
    in_browser(jupyter_lab, run_notebook_and_use_widget, FAILURE_SHOT)


def explorer_status(widget) -> int:
    """'256 draws (run 2): ...' -> 2."""
    text = widget.locator(".widget-html .widget-html-content").inner_text().strip()
    match = re.match(r"256 draws \(run (\d+)\): share of images with any loss cell", text)
    assert match, f"the explorer's status is not a count of draws: {text!r}"
    return int(match[1])


def run_explorer_and_move_sliders(page, url: str) -> None:
    idle = open_and_run_all(page, url, EXPLORER_NOTEBOOK, EXPLORER_DONE_TEXT)
    exact = page.locator("label.widget-label", has_text=re.compile("^target scale$"))
    widget = page.locator(WIDGET).filter(has=exact)
    expect(widget, "the MaskExplorer did not render").to_have_count(1)
    image = widget.locator(".widget-output img")
    expect(image, "the explorer shows no maps").to_be_visible()
    assert explorer_status(widget) == 1
    old_image = image.get_attribute("src")

    # More targets: the statistics are drawn again, and the picture changes.
    targets = labelled(widget, ".widget-slider", "targets")
    targets.get_by_role("slider").press("End")
    expect(targets.locator(".widget-readout")).to_have_text("8")
    status = widget.locator(".widget-html .widget-html-content")
    expect(status, "the explorer did not redraw after the targets slider moved").to_contain_text(
        "(run 2)"
    )
    expect(image, "the maps did not change with the targets").not_to_have_attribute(
        "src", old_image
    )
    # A finer grid: level 0 becomes 16x16 (the slider's last value).
    grid = labelled(widget, ".widget-slider", "grid side")
    grid.get_by_role("slider").press("End")
    expect(grid.locator(".widget-readout")).to_have_text("16")
    expect(status).to_contain_text("(run 3)")
    assert "hjepa-error" not in widget.inner_html()

    expect(idle, "the kernel did not become idle after using the explorer").to_be_visible()
    errors = error_report(page)
    assert not errors, f"JupyterLab shows errors:\n{errors}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=EXPLORER_SHOT)


@pytest.mark.slow
def test_mask_explorer_runs_and_reacts_in_jupyterlab(jupyter_lab):
    in_browser(jupyter_lab, run_explorer_and_move_sliders, EXPLORER_FAILURE_SHOT)
