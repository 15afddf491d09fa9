"""The notebooks in a real browser: Voila serves them on 127.0.0.1, Playwright drives Chromium.

Debian's /usr/bin/chromium is used (never a browser download). Each test gets its own
DOCMAIL_HOME and a keyring backend that stores in a tmp dir, shared with the Voila kernel.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from imap_server import DovecotServer
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from servers import ListeningProcess, SMTPTestServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# limits for waiting on a slow shared machine; never asserted on
START_LIMIT_S = 120
RENDER_LIMIT_MS = 60_000


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
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1500})
    context.set_default_timeout(RENDER_LIMIT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def keyring_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "keyring"
    folder.mkdir()
    return folder


def stored_passwords(keyring_dir: Path) -> dict[str, str]:
    path = keyring_dir / "keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


class VoilaServer(ListeningProcess):
    """``voila`` serving one notebook copied into a tmp folder."""

    name = "voila"
    start_limit_s = START_LIMIT_S

    def __init__(self, notebook: Path, workdir: Path, env: dict[str, str]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(notebook, workdir / notebook.name)
        self.start(
            [
                str(Path(sys.executable).parent / "voila"),
                "--no-browser",
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                notebook.name,
            ],
            port=port,
            cwd=workdir,
            env=env,
            log=workdir / "voila.log",
        )


@pytest.fixture
def voila(
    tmp_path: Path, docmail_home: Path, keyring_dir: Path
) -> Iterator[Callable[[str], VoilaServer]]:
    """Factory: ``voila("01_smtp_settings.ipynb")`` serves that notebook; stopped after the test."""
    started: list[VoilaServer] = []
    env = dict(os.environ)
    env.update(
        DOCMAIL_HOME=str(docmail_home),
        DOCMAIL_TEST_KEYRING_DIR=str(keyring_dir),
        PYTHON_KEYRING_BACKEND="file_keyring.TmpDirKeyring",
        PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "support"), env.get("PYTHONPATH", "")]),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
    )
    env.pop("DOCMAIL_SMTP_PASSWORD", None)

    def start(name: str) -> VoilaServer:
        server = VoilaServer(NOTEBOOKS / name, tmp_path / "served", env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def screenshot(page: Page, selector: str, name: str) -> None:
    """Save the panel's picture under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(selector).screenshot(path=str(ARTIFACTS / name))


def open_notebook(page: Page, server: VoilaServer, panel_class: str) -> None:
    page.goto(server.url)
    expect(page.locator(f".{panel_class}")).to_be_visible()


PASSWORD = "correct horse"


def settings_field(page: Page, label: str) -> Locator:
    return page.locator(".docmail-settings").get_by_label(label, exact=True)


def test_settings_notebook_tests_saves_and_reloads_a_profile(
    page: Page,
    voila: Callable[[str], VoilaServer],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    keyring_dir: Path,
) -> None:
    server = smtp_server("starttls")
    notebook = voila("01_smtp_settings.ipynb")
    open_notebook(page, notebook, "docmail-settings")
    panel = page.locator(".docmail-settings")

    settings_field(page, "Profile name").fill("office")
    settings_field(page, "Host").fill(server.host)
    settings_field(page, "Security").select_option(label="STARTTLS (usually port 587)")
    settings_field(page, "Port").fill(str(server.port))
    settings_field(page, "Port").press("Tab")
    settings_field(page, "Username").fill("anna@example.ch")
    settings_field(page, "From").fill("anna@example.ch")
    panel.get_by_text("Advanced").click()
    settings_field(page, "CA file").fill(str(ca_file))

    settings_field(page, "Password").fill("wrong horse")
    panel.get_by_role("button", name="Test connection").click()
    expect(panel.locator(".docmail-error")).to_contain_text("535")
    expect(panel.locator(".docmail-hint")).to_contain_text("app password")
    expect(settings_field(page, "Password")).to_have_value("")

    settings_field(page, "Password").fill(PASSWORD)
    panel.get_by_role("button", name="Test connection").click()
    expect(panel.locator(".docmail-ok")).to_contain_text("Connected to 127.0.0.1")
    expect(settings_field(page, "Password")).to_have_value("")  # out of the page ...
    expect(settings_field(page, "Password")).to_have_attribute(
        "placeholder", re.compile("kept for Save")
    )  # ... and kept by the panel: Save stores the password just tested
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".docmail-ok")).to_contain_text("Saved profile 'office'")
    expect(settings_field(page, "Password")).to_have_value("")
    assert stored_passwords(keyring_dir) == {"docmail_nb/office": PASSWORD}
    assert PASSWORD not in page.content()
    screenshot(page, ".docmail-settings", "settings-panel.png")

    page.reload()
    expect(panel).to_be_visible()
    expect(settings_field(page, "Profile name")).to_have_value("office")
    expect(settings_field(page, "Host")).to_have_value(server.host)
    expect(settings_field(page, "Port")).to_have_value(str(server.port))
    expect(settings_field(page, "Password")).to_have_value("")
    assert PASSWORD not in page.content()


def test_settings_notebook_tests_imap_and_names_the_sent_folder(
    page: Page,
    voila: Callable[[str], VoilaServer],
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    keyring_dir: Path,
) -> None:
    server = smtp_server("starttls")
    mailbox = dovecot(folders=("Sent", "Gesendet"), special_use={"Gesendet": "\\Sent"})
    notebook = voila("01_smtp_settings.ipynb")
    open_notebook(page, notebook, "docmail-settings")
    panel = page.locator(".docmail-settings")

    settings_field(page, "Preset").select_option(label="cyon")
    settings_field(page, "Profile name").fill("shop")
    panel.get_by_text("Advanced").click()
    expect(settings_field(page, "IMAP host")).to_have_value("mail.cyon.ch")  # from the preset
    expect(settings_field(page, "Host")).to_have_value("mail.cyon.ch")
    settings_field(page, "Host").fill(server.host)
    settings_field(page, "Security").select_option(label="STARTTLS (usually port 587)")
    expect(settings_field(page, "Port")).to_have_value("587")  # the kernel's suggestion first
    settings_field(page, "Port").fill(str(server.port))
    settings_field(page, "Port").press("Tab")
    settings_field(page, "Username").fill("anna@example.ch")
    settings_field(page, "CA file").fill(str(ca_file))
    settings_field(page, "IMAP host").fill(mailbox.host)
    settings_field(page, "IMAP port").fill(str(mailbox.ssl_port))
    settings_field(page, "IMAP port").press("Tab")
    settings_field(page, "Password").fill(PASSWORD)
    panel.get_by_role("button", name="Test connection").click()
    expect(panel.locator(".docmail-ok").last).to_contain_text("Sent folder 'Gesendet'")
    expect(panel.locator(".docmail-ok").first).to_contain_text(
        f"Connected to 127.0.0.1:{server.port}"
    )
    assert PASSWORD not in page.content()


def pick_message(panel: Locator, key: str) -> None:
    """Click the message of ``key`` in the panel's table."""
    panel.locator(".docmail-grid-table tbody tr", has_text=key).click()


def test_send_notebook_previews_a_row_and_sends_after_confirming(
    page: Page, voila: Callable[[str], VoilaServer]
) -> None:
    notebook = voila("02_send_documents.ipynb")
    open_notebook(page, notebook, "docmail-send")
    panel = page.locator(".docmail-send")
    expect(panel.locator(".docmail-ok").first).to_contain_text("10 messages from 10 rows: 10 ready")
    expect(panel.locator(".docmail-grid-table tbody tr")).to_have_count(10)

    pick_message(panel, "R-2026-1044")
    expect(panel.locator(".docmail-preview")).to_contain_text("R-2026-1044.pdf")
    expect(panel.locator(".docmail-preview")).to_contain_text("info@froehlich-holz.example")
    panel.get_by_role("button", name="Next ▶").click()
    expect(panel.locator(".docmail-preview")).to_contain_text("R-2026-1045.pdf")

    panel.get_by_role("button", name="Send", exact=True).click()
    expect(panel).to_contain_text(
        "Send 10 messages to 13 recipients via 127.0.0.1 as buchhaltung@bergmann-werkstatt.example?"
    )
    screenshot(page, ".docmail-send", "send-panel-confirm.png")
    panel.get_by_role("button", name="Yes, send").click()
    expect(panel.locator(".docmail-download")).to_be_visible()
    expect(panel.locator(".docmail-ok").last).to_contain_text("10 sent")
    expect(panel.locator(".docmail-grid-table .docmail-state-sent")).to_have_count(10)
    screenshot(page, ".docmail-send", "send-panel.png")


def test_the_message_grid_sorts_formats_shows_whole_cells_and_previews(
    page: Page, voila: Callable[[str], VoilaServer]
) -> None:
    notebook = voila("02_send_documents.ipynb")
    open_notebook(page, notebook, "docmail-send")
    panel = page.locator(".docmail-send")
    rows = panel.locator(".docmail-grid-table tbody tr")
    expect(rows).to_have_count(10)
    headers = [h.strip() for h in panel.locator(".docmail-grid-table th").all_inner_texts()]
    amount = headers.index("amount") + 1

    # money in the template's currency, right-aligned; the state a coloured word
    cell = rows.first.locator(f"td:nth-child({amount})")
    expect(cell).to_have_text("CHF 1’234.50")
    assert cell.evaluate("td => getComputedStyle(td).textAlign") == "right"
    state = rows.first.locator(".docmail-state")
    expect(state).to_have_text("ready")
    assert state.evaluate("s => getComputedStyle(s).color") != rows.first.locator(
        "td:nth-child(3)"
    ).evaluate("td => getComputedStyle(td).color")

    # a click on a header sorts; a second click turns the order round
    sort = panel.get_by_role("button", name="amount", exact=True)
    sort.click()
    expect(rows.first.locator(f"td:nth-child({amount})")).to_have_text("CHF 72.10")
    sort.click()
    expect(rows.first.locator(f"td:nth-child({amount})")).to_have_text("CHF 15’820.00")
    expect(panel.locator("th[aria-sort=descending]")).to_have_count(1)

    # a cut cell shows its whole text on hover (its title); the text is selectable page text
    to = headers.index("To") + 1
    cut = panel.locator(f".docmail-grid-table td:nth-child({to})", has_text="…").first
    assert cut.get_attribute("title") == "s.jaeggi@bluemli.example, office@bluemli.example"

    # the row clicked is previewed; the up and down keys move the preview
    rows.nth(0).click()
    expect(panel.locator(".docmail-preview")).to_contain_text("R-2026-1046")
    page.keyboard.press("ArrowDown")
    expect(panel.locator(".docmail-preview")).to_contain_text("R-2026-1049")  # 4,310.20 next
    page.keyboard.press("ArrowUp")
    expect(panel.locator(".docmail-preview")).to_contain_text("R-2026-1046")

    # the filter narrows the rows
    panel.get_by_label("Filter messages").fill("fröhlich")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("R-2026-1044")
    screenshot(page, ".docmail-send", "send-panel-grid.png")


def test_settings_panel_tests_then_saves_the_typed_password_without_retyping(
    page: Page,
    voila: Callable[[str], VoilaServer],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    keyring_dir: Path,
) -> None:
    server = smtp_server("starttls")
    notebook = voila("01_smtp_settings.ipynb")
    open_notebook(page, notebook, "docmail-settings")
    panel = page.locator(".docmail-settings")
    settings_field(page, "Profile name").fill("office")
    settings_field(page, "Host").fill(server.host)
    settings_field(page, "Security").select_option(label="STARTTLS (usually port 587)")
    expect(panel.locator(".docmail-note").first).to_contain_text("port 587 with STARTTLS")
    settings_field(page, "Port").fill(str(server.port))
    settings_field(page, "Port").press("Tab")
    expect(panel.locator(".docmail-note").first).to_contain_text(
        f"the form has port {server.port}"
    )  # the preset note agrees with the fields shown
    settings_field(page, "Username").fill("anna@example.ch")
    panel.get_by_text("Advanced").click()
    settings_field(page, "CA file").fill(str(ca_file))
    settings_field(page, "Password").fill(PASSWORD)
    panel.get_by_role("button", name="Test connection").click()
    expect(panel.locator(".docmail-ok")).to_contain_text("Connected to 127.0.0.1")
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".docmail-ok")).to_contain_text("The password is stored in keyring.")
    expect(panel).to_contain_text("A password for 'office' is stored in keyring.")
    expect(panel).not_to_contain_text("No password is stored")
    assert stored_passwords(keyring_dir) == {"docmail_nb/office": PASSWORD}
    assert PASSWORD not in page.content()
