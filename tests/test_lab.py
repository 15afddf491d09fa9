"""From the built wheel to the invoice run: a fresh venv, ``docmail init``, papermill, JupyterLab.

The wheel is built from this checkout and installed with its ``[lab]`` extra into a new venv,
offline, from the wheels ``make`` put in ``.wheelhouse/`` (no package index is reached here).
Everything then runs from that venv: ``docmail init``, the scheduled notebook with papermill,
and JupyterLab 4 driven by Playwright in Debian's /usr/bin/chromium (never a browser download).
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from servers import ListeningProcess, free_port

from docmail_nb._mail.sink import CaptureServer

# the first test also builds the fresh venv: a generous limit on a busy machine (never asserted)
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / ".wheelhouse"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
SENDER = "buchhaltung@bergmann-werkstatt.example"
# limits for waiting on a slow shared machine; never asserted on
INSTALL_LIMIT_S = 900
START_LIMIT_S = 180
RENDER_LIMIT_MS = 120_000
# JupyterLab without news prompts, with every cell rendered (no windowing)
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


class FreshVenv:
    """A new venv holding the wheel with ``[lab]`` and nothing from this checkout."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bin = folder / "bin"

    def run(self, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    if not (WHEELHOUSE / ".done").exists():
        pytest.skip("no wheelhouse: run 'make .wheelhouse/.done' (make test does)")
    base = tmp_path_factory.mktemp("fresh")
    dist = base / "dist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--wheel-dir", str(dist), str(ROOT)),
        ],
        check=True,
        timeout=INSTALL_LIMIT_S,
    )
    (wheel,) = dist.glob("docmail_nb-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    fresh = FreshVenv(base / "venv")
    subprocess.run(
        [
            *(str(fresh.bin / "python"), "-m", "pip", "install", "--quiet", "--no-compile"),
            *("--no-index", "--find-links", str(WHEELHOUSE), f"{wheel}[lab]"),
        ],
        check=True,
        timeout=INSTALL_LIMIT_S,
    )
    settings = base / "venv" / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES), encoding="utf-8")
    return fresh


@pytest.fixture
def env(tmp_path: Path, docmail_home: Path) -> dict[str, str]:
    """The environment of a new user: nothing of this checkout on the path, a tmp home."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV") and not key.startswith("DOCMAIL_")
    }
    (tmp_path / "tmp").mkdir()
    (tmp_path / "home").mkdir()
    clean.update(
        HOME=str(tmp_path / "home"),
        TMPDIR=str(tmp_path / "tmp"),
        DOCMAIL_HOME=str(docmail_home),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    return clean


def test_wheel_installs_init_makes_a_folder_and_the_scheduled_notebook_sends(
    venv: FreshVenv, env: dict[str, str], tmp_path: Path
) -> None:
    made = venv.run("docmail", "init", "invoices", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "invoices"
    assert (folder / "scheduled_send.ipynb").is_file()
    assert str(ROOT) not in (folder / "scheduled_send.ipynb").read_text(encoding="utf-8")

    with CaptureServer(tmp_path / "outbox") as sink:
        added = venv.run(
            "docmail", "profile", "add", "capture", "--host", sink.host, "--port",
            str(sink.port), "--security", "none", "--from", SENDER,
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        ran = venv.run(
            "papermill", "scheduled_send.ipynb", "runs/invoices.ipynb", "--no-progress-bar",
            "-r", "profile", "capture", "-p", "dry_run", "False",
            cwd=folder, env=env,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr[-3000:]
        subjects = sorted(message.subject for message in sink.messages)
    assert len(subjects) == 10
    assert subjects[0].startswith("Rechnung R-2026-1041")
    nb = nbformat.read(folder / "runs" / "invoices.ipynb", as_version=4)
    first = next(output for cell in nb.cells for output in cell.get("outputs", []))
    assert "10 sent" in first["data"]["text/markdown"]


# --- JupyterLab in Chromium -------------------------------------------------------------------


class JupyterLab(ListeningProcess):
    """``jupyter lab`` of the fresh venv serving a folder on 127.0.0.1, no token."""

    name = "jupyter lab"
    start_limit_s = START_LIMIT_S

    def __init__(self, venv: FreshVenv, folder: Path, env: dict[str, str], log: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.start(
            [
                str(venv.bin / "jupyter"), "lab", "--no-browser", f"--port={port}",
                "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
                "--LabApp.news_url=", f"--ServerApp.root_dir={folder}", "--allow-root",
            ],
            port=port,
            cwd=folder,
            env=env,
            log=log,
        )  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def lab_folder(venv: FreshVenv, env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    made = venv.run("docmail", "init", "invoices", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "invoices"
    lab = JupyterLab(venv, folder, env, tmp_path / "lab.log")
    try:
        yield folder, lab.url
    finally:
        lab.stop()


def screenshot(page: Page, name: str) -> None:
    """The browser window as the user sees it, under test-artifacts/ (docs/img uses them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def start_kernel(page: Page) -> None:
    """Accept the preferred kernel when JupyterLab asks, and wait until it is idle."""
    idle = page.get_by_role("button", name=re.compile(r"Python 3 \(ipykernel\) \| Idle"))
    dialog = page.get_by_role("dialog").filter(has_text="Select Kernel")
    expect(idle.or_(dialog)).to_be_visible(timeout=RENDER_LIMIT_MS)
    if dialog.is_visible():
        dialog.get_by_role("button", name="Select Kernel").click()
    expect(idle).to_be_visible(timeout=RENDER_LIMIT_MS)


def run_all_cells(page: Page) -> None:
    page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()


def cut_off(page: Page, selector: str) -> list[str]:
    """The visible parts of the element that reach past its right edge (cut off)."""
    return list(
        page.locator(selector).evaluate(
            """panel => {
                const right = panel.getBoundingClientRect().right + 1;
                const clipped = el => {  // inside a box that scrolls or clips, and fits
                    for (let up = el.parentElement; up && up !== panel; up = up.parentElement) {
                        const x = getComputedStyle(up).overflowX;
                        if (x !== 'visible' && up.getBoundingClientRect().right <= right) {
                            return true;
                        }
                    }
                    return false;
                };
                return [...panel.querySelectorAll('*')]
                    .filter(el => el.offsetParent !== null)
                    .filter(el => el.getBoundingClientRect().right > right && !clipped(el))
                    .map(el => `${el.tagName}.${el.className} ${el.textContent.slice(0, 40)}`);
            }"""
        )
    )


def test_jupyterlab_runs_the_send_notebook_of_an_init_folder_to_the_capture_server(
    venv: FreshVenv, lab_folder: tuple[Path, str], browser: Browser, tmp_path: Path
) -> None:
    url = lab_folder[1]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(RENDER_LIMIT_MS)
    page = context.new_page()
    try:
        page.goto(f"{url}/lab/tree/02_send_documents.ipynb")
        expect(page.locator(".jp-Notebook")).to_be_visible(timeout=RENDER_LIMIT_MS)
        start_kernel(page)
        run_all_cells(page)
        panel = page.locator(".docmail-send")
        expect(panel).to_be_visible(timeout=RENDER_LIMIT_MS)
        expect(panel.locator(".docmail-ok").first).to_contain_text(
            "10 messages from 10 rows: 10 ready", timeout=RENDER_LIMIT_MS
        )

        # pick a row in the table, see it as a mail program shows it
        panel.locator(".docmail-grid-table tbody tr", has_text="R-2026-1044").click()
        preview = panel.locator(".docmail-preview")
        expect(preview).to_contain_text("Rechnung R-2026-1044")
        expect(preview).to_contain_text("R-2026-1044.pdf")
        expect(preview).not_to_contain_text("MIME-Version")
        panel.get_by_role("button", name="Raw message").click()
        expect(panel.locator(".docmail-raw")).to_contain_text("MIME-Version")
        panel.get_by_role("button", name="Raw message").click()

        # the layout follows the notebook's width, down to 900 px
        page.set_viewport_size({"width": 900, "height": 1000})
        if page.locator("#jp-left-stack").is_visible():
            page.keyboard.press("Control+b")  # give the notebook the window, as one would
        page.wait_for_timeout(500)  # JupyterLab lays out again
        screenshot(page, "lab-900-window.png")
        assert cut_off(page, ".docmail-send") == []
        page.set_viewport_size({"width": 1400, "height": 1000})

        panel.get_by_role("button", name="Send", exact=True).click()
        expect(panel).to_contain_text("Send 10 messages to 13 recipients")
        panel.get_by_role("button", name="Yes, send").click()
        expect(panel.locator(".docmail-download")).to_be_visible(timeout=RENDER_LIMIT_MS)
        expect(panel.locator(".docmail-ok").last).to_contain_text("10 sent")
        expect(panel.locator(".docmail-grid-table .docmail-state-sent")).to_have_count(10)
        panel.locator(".docmail-download").scroll_into_view_if_needed()
        screenshot(page, "lab-send-panel.png")
        page.set_viewport_size({"width": 900, "height": 1000})
        page.wait_for_timeout(500)
        panel.locator(".docmail-download").scroll_into_view_if_needed()
        assert cut_off(page, ".docmail-send") == []  # status, report line and download too
        screenshot(page, "lab-900-after-send.png")

        folder = lab_folder[0]
        assert len(list((folder / "outbox" / "new").iterdir())) == 10  # in the working folder
        assert not list((tmp_path / "tmp").glob("docmail-*"))  # no temporary folder left
    finally:
        context.close()


# --- Notebook 7 in Chromium -------------------------------------------------------------------


class Notebook7(ListeningProcess):
    """``jupyter notebook`` (Notebook 7) of the fresh venv serving a folder on 127.0.0.1."""

    name = "jupyter notebook"
    start_limit_s = START_LIMIT_S

    def __init__(self, venv: FreshVenv, folder: Path, env: dict[str, str], log: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.start(
            [
                str(venv.bin / "jupyter"), "notebook", "--no-browser", f"--port={port}",
                "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
                f"--ServerApp.root_dir={folder}", "--allow-root",
            ],
            port=port,
            cwd=folder,
            env=env,
            log=log,
        )  # fmt: skip


def notebook7_run_all(page: Page) -> None:
    """Accept the preferred kernel when Notebook 7 asks, then Run → Run All Cells."""
    dialog = page.get_by_role("dialog").filter(has_text="Select Kernel")
    chosen = page.get_by_role("button", name=re.compile(r"Python 3 \(ipykernel\)"))
    expect(chosen.or_(dialog).first).to_be_visible(timeout=RENDER_LIMIT_MS)
    if dialog.is_visible():
        dialog.get_by_role("button", name="Select Kernel").click()
    expect(chosen).to_be_visible(timeout=RENDER_LIMIT_MS)
    page.get_by_role("menubar").get_by_text("Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()


def test_notebook_7_runs_the_init_folders_notebooks_and_sends_to_the_capture_server(
    venv: FreshVenv, env: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    made = venv.run("docmail", "init", "invoices", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "invoices"
    server = Notebook7(venv, folder, env, tmp_path / "notebook.log")
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.set_default_timeout(RENDER_LIMIT_MS)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/notebooks/01_smtp_settings.ipynb")
        expect(page.locator(".jp-Notebook")).to_be_visible(timeout=RENDER_LIMIT_MS)
        notebook7_run_all(page)
        settings = page.locator(".docmail-settings")
        expect(settings).to_be_visible(timeout=RENDER_LIMIT_MS)
        expect(settings.get_by_label("Host", exact=True)).to_be_visible()
        expect(settings).to_contain_text("port 587 with STARTTLS")

        page.goto(f"{server.url}/notebooks/02_send_documents.ipynb")
        expect(page.locator(".jp-Notebook")).to_be_visible(timeout=RENDER_LIMIT_MS)
        notebook7_run_all(page)
        panel = page.locator(".docmail-send")
        expect(panel).to_be_visible(timeout=RENDER_LIMIT_MS)
        expect(panel.locator(".docmail-ok").first).to_contain_text(
            "10 messages from 10 rows: 10 ready", timeout=RENDER_LIMIT_MS
        )
        rows = panel.locator(".docmail-grid-table tbody tr")
        expect(rows).to_have_count(10)
        rows.filter(has_text="R-2026-1044").click()
        expect(panel.locator(".docmail-preview")).to_contain_text("Rechnung R-2026-1044")

        panel.get_by_role("button", name="Send", exact=True).click()
        expect(panel).to_contain_text("Send 10 messages to 13 recipients")
        panel.get_by_role("button", name="Yes, send").click()
        expect(panel.locator(".docmail-download")).to_be_visible(timeout=RENDER_LIMIT_MS)
        expect(panel.locator(".docmail-grid-table .docmail-state-sent")).to_have_count(10)
        screenshot(page, "notebook7-send-panel.png")
        assert len(list((folder / "outbox" / "new").iterdir())) == 10
    finally:
        context.close()
        server.stop()
