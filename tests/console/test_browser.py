"""The console in a real browser: Debian's chromium driven by Playwright (headless), against
``despacho run`` on a free port, with the demo company seeded and the rules in a git repository.

Screenshots of every page land in the test's temporary folder and in ``test-artifacts/console/``
(ignored by git) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from tests.conftest import REPO
from tests.console.conftest import git
from tests.fakes.ports import free_port

DESPACHO = Path(sys.executable).parent / "despacho"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "console"
ADMIN, VIEWER, PASSWORD = "ana", "vitor", "senha-do-navegador-1"


def _despacho(*args: str, cwd: Path, stdin: str = "") -> None:
    done = subprocess.run([str(DESPACHO), *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=300, env=_env(cwd))
    assert done.returncode == 0, f"despacho {' '.join(args)}: {done.stderr[-2000:]}"


def _env(cwd: Path, port: int = 0) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    if port:
        env.update(DESPACHO_API__PORT=str(port), DESPACHO_API__PUBLIC_URL=f"http://127.0.0.1:{port}")
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``despacho run`` on a free port in a project folder of its own: (base URL, folder)."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: run `make test` (scripts/ensure-tools installs it)")
    root = tmp_path_factory.mktemp("console-browser")
    for folder in ("rules", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "config.example.yaml", root / "config.yaml")
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "rules", "templates")
    git(root, "-c", "user.name=setup", "-c", "user.email=setup@example.com", "commit", "--quiet",
        "-m", "initial")
    _despacho("db", "upgrade", cwd=root)
    _despacho("db", "seed", "--demo", cwd=root)
    _despacho("user", "create", ADMIN, "--role", "admin", cwd=root, stdin=PASSWORD + "\n")
    _despacho("user", "create", VIEWER, "--role", "viewer", cwd=root, stdin=PASSWORD + "\n")
    port = free_port()
    process = subprocess.Popen([str(DESPACHO), "run"], cwd=root, env=_env(root, port),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + "/health", process)
        yield base, root
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(url: str, process: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read()[-3000:] if process.stderr else ""
            raise AssertionError(f"despacho run exited: {error}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError(f"despacho run did not answer {url} within {seconds} s")


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[object]:
    def shoot(page: object, name: str) -> None:
        for folder in (tmp_path, ARTIFACTS):
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
    yield shoot


def _log_in(chromium: object, base: str, name: str, **options: object) -> object:
    context = chromium.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                   **options)
    page = context.new_page()
    page.goto(base + "/console/")
    page.get_by_label("Usuário").fill(name)
    page.get_by_label("Senha").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url("**/console/painel")  # the home page is the first menu entry: the Dashboard
    return page


def test_an_admin_logs_in_and_reads_every_page(server: tuple[str, Path], chromium: object, shots) -> None:
    base, _ = server
    page = _log_in(chromium, base, ADMIN)
    page.goto(base + "/console/status")
    shots(page, "status")
    assert page.get_by_role("heading", name="Status").is_visible()
    assert page.get_by_text("ana (administrador)").is_visible()
    for path, heading, name in (("/console/execucoes", "Execuções", "runs"),
                                ("/console/execucoes/cartas", "Cartas mortas", "dead-letters"),
                                ("/console/configuracao", "Configuração", "configuration"),
                                ("/console/configuracao/modelos/sms/appointment_reminder",
                                 "Modelo sms/appointment_reminder", "template")):
        page.goto(base + path)
        assert page.get_by_role("heading", name=heading).first.is_visible(), path
        shots(page, name)


def test_the_template_preview_follows_the_typing(server: tuple[str, Path], chromium: object) -> None:
    base, _ = server
    page = _log_in(chromium, base, ADMIN)
    page.goto(base + "/console/configuracao/modelos/sms/appointment_reminder")
    page.get_by_label("text").fill("Olá {{ data.customer.name }}, até amanhã!")
    # the page's own script posts the text as it changes (no eval: the CSP forbids it, even to tests)
    playwright.expect(page.locator("#preview-text")).to_have_text("Olá Maria Oliveira, até amanhã!")
    assert page.locator("[data-field=encoding]").inner_text() in ("GSM-7", "UCS-2")


def test_an_admin_edits_a_template_and_the_commit_names_her(server: tuple[str, Path], chromium: object,
                                                            shots) -> None:
    base, root = server
    page = _log_in(chromium, base, ADMIN)
    page.goto(base + "/console/configuracao/modelos/whatsapp/technician_assigned")
    text = "Olá {{ data.customer.name }}! O técnico está a caminho. {{ config.company.name }}"
    page.get_by_label("text").fill(text)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Validar e salvar").click()
    page.get_by_text("Salvo e registrado no git").wait_for()
    shots(page, "template-saved")
    assert (root / "templates/whatsapp/technician_assigned.txt").read_text(encoding="utf-8") == text
    assert git(root, "log", "-1", "--format=%an").strip() == ADMIN


def test_a_viewer_sees_no_change_buttons_and_is_refused_a_change(server: tuple[str, Path],
                                                               chromium: object, shots) -> None:
    base, _ = server
    page = _log_in(chromium, base, VIEWER)
    page.goto(base + "/console/configuracao")
    shots(page, "configuration-viewer")
    assert page.get_by_role("button", name="Desativar").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(base + "/console/configuracao/regras-ativas",
                               form={"csrf_token": token or "", "arquivo": "invoices.yaml", "regra": "x",
                                     "ativa": "nao"})
    assert answer.status == 403


def test_a_change_without_the_csrf_token_is_refused(server: tuple[str, Path], chromium: object) -> None:
    base, root = server
    page = _log_in(chromium, base, ADMIN)
    before = git(root, "rev-parse", "HEAD")
    answer = page.request.post(base + "/console/configuracao/modelos/sms/invoice_overdue",
                               form={"parte_text": "sem token", "acao": "salvar"})
    assert answer.status == 403
    assert git(root, "rev-parse", "HEAD") == before


AXE_RULES = ("label", "color-contrast", "button-name", "link-name", "html-has-lang", "document-title")


def test_every_page_has_labels_and_enough_contrast_by_axe_core(server: tuple[str, Path], chromium: object,
                                                               tmp_path: Path) -> None:
    """axe-core (bundled in the axe-playwright-python wheel: offline) on each page, at phone width too.
    The page's CSP forbids the injected script, so this context alone bypasses it."""
    from axe_playwright_python.sync_playwright import Axe

    base, _ = server
    page = _log_in(chromium, base, ADMIN, bypass_csp=True)
    axe, failures = Axe(), []
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ("/console/painel", "/console/status", "/console/execucoes", "/console/execucoes/cartas",
                     "/console/configuracao", "/console/configuracao/modelos/email/order_completed",
                     "/console/configuracao/regras/invoices.yaml"):
            page.goto(base + path)
            results = axe.run(page, options={"runOnly": {"type": "rule", "values": list(AXE_RULES)}})
            report = results.generate_report()
            for folder in (tmp_path, ARTIFACTS):
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"axe{path.replace('/', '_')}_{width}.txt").write_text(report, encoding="utf-8")
            failures += [f"{path} @{width}: {v['id']}: {v['help']}" for v in results.response["violations"]]
    assert failures == []
