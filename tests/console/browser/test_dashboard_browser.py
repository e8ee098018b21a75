"""The Dashboard in a real browser: Debian's chromium driven by Playwright, headless, against
``despacho run`` on a free port with the demo company. Screenshots go to ``test-artifacts/console/``
(ignored by git) and the test's tmp folder."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from tests.console.test_exports import pdf_text
from tests.fakes.ports import free_port

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "senha-do-navegador-1"


def despacho(cwd: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-c", "from cli import main; main()", *args], cwd=cwd, env=env,
                          input=stdin, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``despacho run`` on a seeded SQLite database with the admin 'ana'; yields its URL."""
    home = tmp_path_factory.mktemp("served")
    for folder in ("rules", "templates"):
        (home / folder).mkdir()
    port = free_port()
    (home / "config.yaml").write_text(
        f"database:\n  url: sqlite:///{home / 'despacho.db'}\n"
        f"api:\n  host: 127.0.0.1\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
        "  jwt_keys: 't1:" + "k" * 48 + "'\n  rate_limit_storage: 'memory://'\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESPACHO_")}
    env["DESPACHO_CONFIG"] = str(home / "config.yaml")
    despacho(home, env, "db", "upgrade")
    despacho(home, env, "db", "seed", "--demo", "--customers", "60", "--orders", "800")
    despacho(home, env, "user", "create", "ana", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    log = (home / "run.log").open("wb")  # a file, not a pipe: a full pipe would stall the server
    process = subprocess.Popen([sys.executable, "-c", "from cli import main; main()", "run"], cwd=home,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, home / "run.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"despacho run exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not start within 60 s")


@pytest.fixture
def page(served: str, tmp_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make tools` installs Debian's chromium (scripts/ensure-tools)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(accept_downloads=True, locale="pt-BR", viewport={"width": 1280,
                                                                                      "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def shot(page: object, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


def test_reading_filtering_and_exporting_the_dashboard(served: str, page: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{served}/console/painel")
    page.get_by_label("Nome").or_(page.locator("input[name=name]")).first.fill("ana")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{served}/console/painel")
    expect(page.get_by_role("heading", name="Painel")).to_be_visible()

    opened = page.locator('[data-figure="opened"] .value')
    whole = int(opened.inner_text().replace(".", ""))
    assert whole > 100
    expect(page.locator("#grafico-dias .main-svg").first).to_be_attached(timeout=20_000)  # plotly drew it
    expect(page.locator('[data-counter="in_progress"]')).not_to_have_text("—", timeout=20_000)  # SSE
    shot(page, tmp_path, "dashboard")

    page.select_option("#regiao", index=1)
    region = page.locator("#regiao").input_value()
    page.get_by_role("button", name="Filtrar").click()
    expect(page.locator("#filtros-em-vigor")).to_contain_text(f"Região: {region}")
    part = int(page.locator('[data-figure="opened"] .value').inner_text().replace(".", ""))
    assert 0 < part < whole
    shot(page, tmp_path, "dashboard-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="Exportar Excel").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    book = load_workbook(io.BytesIO(saved.read_bytes()))
    summary = {row[0]: row[1] for row in book["Resumo"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Ordens abertas"] == part and summary["Região"] == region
    assert book["Por dia"].max_row == 31  # header and 30 days
    assert book["Técnicos"].max_row >= 2

    with page.expect_download() as download:
        page.get_by_role("link", name="Relatório PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert "Ordens abertas" in pdf_text(pdf) and f"{part:,}".replace(",", ".") in pdf_text(pdf)
    assert not [e for e in errors if "Content Security Policy" in e], errors
