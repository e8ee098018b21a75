"""Hostile input against the web console: forged and replayed cookies, missing or foreign CSRF tokens,
path traversal in template and rule file names, script in stored data, open redirects after login."""
# ruff: noqa: F811  (the console's fixtures are imported by name and used as parameters)

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from console.auth import SESSION_COOKIE
from store.db import session_scope
from store.models.console import ConsoleSession
from store.models.events import Event
from store.models.runs import RuleRun
from store.types import utcnow
from tests.console.conftest import (  # noqa: F401  (fixtures)
    PASSWORD,
    admin,
    app,
    browser,
    csrf_of,
    db_engine,
    git,
    make_user,
    project,
    settings,
    viewer,
)

FORGED = ["x", "A" * 43, "../../etc/passwd", "' OR '1'='1", "\u00e9" * 40, "A" * 5000]


@pytest.mark.parametrize("cookie", FORGED)
def test_a_forged_session_cookie_opens_nothing(browser: TestClient, admin: str, cookie: str) -> None:
    browser.cookies.clear()
    answer = browser.get("/console/status", headers={"Cookie": f"{SESSION_COOKIE}={cookie}".encode()})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def test_the_database_row_is_not_a_usable_cookie(browser: TestClient, admin: str,
                                                 db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as session:
        row_id = session.execute(sa.select(ConsoleSession.id)).scalar_one()
    browser.cookies.clear()
    answer = browser.get("/console/status", headers={"Cookie": f"{SESSION_COOKIE}={row_id}"})
    assert answer.status_code == 303


def test_an_expired_session_is_refused(browser: TestClient, admin: str, db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as session:
        session.execute(sa.update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert browser.get("/console/status").status_code == 303


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("token", [None, "", "forged-token", "A" * 43])
def test_a_change_without_the_sessions_csrf_token_is_refused(browser: TestClient, admin: str,
                                                             project: Path, token: str | None) -> None:
    before = git(project, "rev-parse", "HEAD")
    data = {"parte_text": "mudado", "acao": "salvar"} | ({} if token is None else {"csrf_token": token})
    answer = browser.post("/console/configuracao/modelos/sms/invoice_overdue", data=data)
    assert answer.status_code == 403
    assert git(project, "rev-parse", "HEAD") == before


@pytest.mark.usefixtures("project")
def test_another_sessions_csrf_token_is_refused(browser: TestClient, admin: str, app: object,
                                                project: Path) -> None:
    with TestClient(app, base_url="https://testserver",  # type: ignore[arg-type]
                    follow_redirects=False) as other:
        form = other.get("/console/login")
        fields = {"name": "ana", "password": PASSWORD, "csrf_token": csrf_of(form.text)}
        other.post("/console/login", data=fields)
        foreign = csrf_of(other.get("/console/status").text)
    assert foreign != admin
    answer = browser.post("/console/configuracao/modelos/sms/invoice_overdue",
                          data={"csrf_token": foreign, "parte_text": "x", "acao": "salvar"})
    assert answer.status_code == 403


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("path", [
    "/console/configuracao/modelos/sms/..%2F..%2Fconfig",
    "/console/configuracao/modelos/sms/..",
    "/console/configuracao/modelos/..%2Frules/invoices",
    "/console/configuracao/modelos/etc/passwd",
    "/console/configuracao/modelos/sms/Invoice_Overdue",
    "/console/configuracao/regras/..%2Fconfig.yaml",
    "/console/configuracao/regras/../../etc/passwd",
    "/console/configuracao/regras/%2Fetc%2Fpasswd",
    "/console/configuracao/regras/tests/test_invoices.yaml",
    "/console/configuracao/regras/invoices.yaml%00.txt",
])
def test_template_and_rule_names_cannot_leave_their_folders(browser: TestClient, admin: str,
                                                            path: str) -> None:
    answer = browser.get(path)
    assert answer.status_code in (400, 404), answer.text[:300]
    assert "root:" not in answer.text


@pytest.mark.usefixtures("project")
def test_saving_through_a_traversal_name_writes_nothing(browser: TestClient, admin: str,
                                                        project: Path) -> None:
    before = git(project, "rev-parse", "HEAD")
    answer = browser.post("/console/configuracao/regras/..%2Fescape.yaml",
                          data={"csrf_token": admin, "texto": "rules: []\n"})
    assert answer.status_code in (400, 404)
    assert not (project / "escape.yaml").exists()
    assert git(project, "rev-parse", "HEAD") == before


@pytest.mark.usefixtures("project")
def test_a_symlinked_rule_file_pointing_outside_is_refused(browser: TestClient, admin: str,
                                                          project: Path) -> None:
    (project / "secret.yaml").write_text("token: abc\n", encoding="utf-8")
    (project / "rules/link.yaml").symlink_to(project / "secret.yaml")
    answer = browser.get("/console/configuracao/regras/link.yaml")
    assert answer.status_code == 400 and "token: abc" not in answer.text


def test_script_in_stored_data_is_shown_as_text(browser: TestClient, viewer: str,
                                                db_engine: sa.Engine) -> None:
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    with session_scope(db_engine) as session:
        session.add(Event(id="e-evil", type="x.y", source="erp", occurred_at=utcnow(), payload={}))
        session.flush()
        session.add(RuleRun(id="run-evil", rule_id=evil, event_id="e-evil", status="skipped",
                            skip_reason=evil))
    for path in ("/console/execucoes", "/console/execucoes/run-evil"):
        html = browser.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "/console/..//evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_the_console(browser: TestClient, make_user, target: str) -> None:
    make_user("ana", "admin")
    form = browser.get("/console/login")
    answer = browser.post("/console/login", data={"name": "ana", "password": PASSWORD, "next": target,
                                                  "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/console/") and not location.startswith("//") and "evil" not in location


def test_a_viewer_gets_403_on_every_change(browser: TestClient, viewer: str) -> None:
    for path in ("/console/status/checks", "/console/execucoes/cartas",
                 "/console/configuracao/regras-ativas", "/console/configuracao/modelos/sms/invoice_overdue",
                 "/console/configuracao/regras/invoices.yaml", "/console/configuracao/conectores/sms/testar"):
        assert browser.post(path, data={"csrf_token": viewer}).status_code == 403, path
