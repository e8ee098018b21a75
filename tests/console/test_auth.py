"""Logging in and out of the console: sessions, CSRF, roles, lockout, audit."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from console.auth import SESSION_COOKIE
from store.audit import query_entries
from store.db import session_scope
from tests.console.conftest import PASSWORD, csrf_of, log_in


def test_pages_redirect_to_login_without_a_session(browser: TestClient) -> None:
    answer = browser.get("/console/status")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/status"


def test_login_sets_a_secure_httponly_lax_cookie_and_opens_the_page(
        browser: TestClient, make_user: Callable[[str, str], None]) -> None:
    make_user("ana", "admin")
    form = browser.get("/console/login")
    fields = {"name": "ana", "password": PASSWORD, "next": "/console/status",
              "csrf_token": csrf_of(form.text)}
    answer = browser.post("/console/login", data=fields)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/status"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Path=/console" in cookie
    page = browser.get("/console/status")
    assert page.status_code == 200 and "ana" in page.text


def test_wrong_password_is_refused_with_the_same_message_as_an_unknown_user(
        browser: TestClient, make_user: Callable[[str, str], None]) -> None:
    make_user("ana", "admin")
    token = csrf_of(browser.get("/console/login").text)
    wrong = browser.post("/console/login", data={"name": "ana", "password": "nope", "csrf_token": token})
    unknown = browser.post("/console/login", data={"name": "zed", "password": "nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert "inválidos" in wrong.text and "inválidos" in unknown.text


def test_five_failures_lock_the_account_even_for_the_right_password(
        browser: TestClient, make_user: Callable[[str, str], None]) -> None:
    make_user("ana", "admin")
    token = csrf_of(browser.get("/console/login").text)
    for _ in range(5):
        browser.post("/console/login", data={"name": "ana", "password": "errada", "csrf_token": token})
    locked = browser.post("/console/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 401


def test_login_form_without_its_csrf_token_is_refused(
        browser: TestClient, make_user: Callable[[str, str], None]) -> None:
    make_user("ana", "admin")
    browser.get("/console/login")
    answer = browser.post("/console/login", data={"name": "ana", "password": PASSWORD})
    assert answer.status_code == 403


def test_logout_ends_the_session_on_the_server(browser: TestClient, admin: str) -> None:
    cookie = browser.cookies.get(SESSION_COOKIE, path="/console")
    replay = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    browser.cookies.clear()
    assert browser.get("/console/status", headers=replay).status_code == 200
    answer = browser.post("/console/logout", data={"csrf_token": admin}, headers=replay)
    assert answer.status_code == 303
    assert browser.get("/console/status", headers=replay).status_code == 303  # the old cookie is dead


def test_logout_without_the_csrf_token_is_refused(browser: TestClient, admin: str) -> None:
    assert browser.post("/console/logout", data={}).status_code == 403
    assert browser.get("/console/status").status_code == 200


def test_logins_and_failures_are_audited(browser: TestClient, make_user: Callable[[str, str], None],
                                         db_engine: sa.Engine) -> None:
    make_user("ana", "admin")
    token = csrf_of(browser.get("/console/login").text)
    browser.post("/console/login", data={"name": "ana", "password": "errada", "csrf_token": token})
    log_in(browser, "ana")
    with session_scope(db_engine) as session:
        actions = [e.action for e in query_entries(session, actor="user:ana", include_requests=False)]
    assert sorted(actions) == ["console.login", "console.login_refused"]


def test_pages_carry_a_csp_without_inline_scripts(browser: TestClient, admin: str) -> None:
    csp = browser.get("/console/status").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_every_form_on_every_page_carries_the_sessions_token(browser: TestClient, admin: str,
                                                            project: object) -> None:
    for path in ("/console/status", "/console/execucoes/cartas", "/console/configuracao",
                 "/console/configuracao/modelos/sms/appointment_reminder",
                 "/console/configuracao/regras/invoices.yaml"):
        assert csrf_of(browser.get(path).text) == admin, path
